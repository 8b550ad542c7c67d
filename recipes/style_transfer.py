"""Style transfer with latent directions: learn (or reuse) two opposite directions, shift a test set, write the outputs.

    python recipes/style_transfer.py                                    # Yelp: negative <-> positive, test set
    python recipes/style_transfer.py --output yelp_transferred.txt --strength 1.5
    python recipes/style_transfer.py --data-files shakespeare.txt modern.txt --output out.txt
    python recipes/style_transfer.py --input mine.txt --direction positive --output mine.positive.txt

Directions. By default the corpus is Yelp: a balanced sample (--per-class per class, seeded) of the
Shen et al. 2017 stand-in pool, labels positive / negative; when the model already has both
directions ("positive" and "negative", as the built-in default model has) they are reused unless
--relearn. With --data-files A.txt B.txt (one text per line) two directions are always learned,
named after the files' stems (or --names): toward A's style and toward B's. Learning fits a
classification head (--head-name, labels = the two names) on the model's codes and learns each
direction with that head and its label as target, so that --strength auto works.

Test set. Yelp: Li et al.'s 1000 test sentences, the 500 negative ones shifted toward "positive",
then the 500 positive ones toward "negative" (the order of the published systems' outputs).
--data-files: the held-out 10% of each file (by a hash of the line), each shifted toward the other
style. --input FILE --direction NAME: every line of FILE along NAME (an empty line is an error, so
that the output stays line-aligned).

Output: --output gets one transferred text per line, in the test set's order (written atomically).
With the Yelp test set, the accuracy of an independent judge (TF-IDF + logistic regression trained
on the whole pool; it never guides nor picks an edit) is printed beside copy-input's. Strength
"auto" (the default) takes, per text, the smallest of --grid strengths up to --max-strength whose
decoded text the direction's head scores as its target; a direction without a head uses 1.0.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import recipe_common as common

from latentedit import datasets
from latentedit.judges import SentimentJudge, bleu, unchanged

YELP_NAMES = ("positive", "negative")  # direction toward label 1, toward label 0
HOLDOUT = {"train": 0.9, "test": 0.1}


def parse_args(argv):
    ap = common.parser(__doc__)
    ap.add_argument("--data-files", nargs=2, metavar=("A.txt", "B.txt"),
                    help="two text files (one text per line), one per style, instead of Yelp")
    ap.add_argument("--names", nargs=2, metavar=("A", "B"),
                    help="names of the directions toward A's and B's style (default: positive negative for Yelp, "
                         "the files' stems for --data-files)")
    ap.add_argument("--input", metavar="FILE", help="shift every line of FILE (needs --direction)")
    ap.add_argument("--direction", help="the direction --input is shifted along")
    ap.add_argument("--relearn", action="store_true", help="learn the directions even when the model has them")
    ap.add_argument("--per-class", type=common.positive_int, default=2000,
                    help="Yelp pool sentences per class to learn from (default: 2000)")
    ap.add_argument("--method", choices=("mean", "probe"), default="mean",
                    help="mean difference of codes, or the normal of a logistic-regression probe (default: mean)")
    ap.add_argument("--head-name", default="style", help="name of the head fitted with learned directions (default: style)")
    common.add_strength_options(ap)
    ap.add_argument("--limit", type=int, default=0, help="shift only the first N texts of each half (0 = all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the balanced sample (default: 0)")
    ap.add_argument("--show", type=int, default=6, help="examples per half in the table (default: 6)")
    ap.add_argument("--output", help="write the transferred texts, one per line, atomically")
    ap.add_argument("--save-model", metavar="DIR", help="save the model with its (learned) directions to DIR")
    args = ap.parse_args(argv)
    if (args.input is None) != (args.direction is None):
        ap.error("--input and --direction go together")
    if args.names and args.names[0] == args.names[1]:
        ap.error("--names must be two different names")
    if args.limit < 0 or args.show < 0:
        ap.error("--limit and --show must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return common.run(lambda: transfer(args), args.threads)


# -- corpora ------------------------------------------------------------------------------------------

def _name_of(path: str, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem).strip("._-")[:64]
    return name if name and name[0].isalnum() else fallback


def file_corpus(args) -> tuple[tuple[str, str], dict[str, list[str]], dict[str, list[str]]]:
    """Names (toward A, toward B), training texts per name, held-out test texts per name."""
    a, b = args.data_files
    names = tuple(args.names) if args.names else (_name_of(a, "style_a"), _name_of(b, "style_b"))
    if names[0] == names[1]:
        names = (names[0] + "_a", names[1] + "_b")
    train, test = {}, {}
    for name, path in zip(names, (a, b)):
        texts = common.input_lines(path)
        train[name] = [t for t in texts if datasets.split_of(t, HOLDOUT) == "train"]
        test[name] = [t for t in texts if datasets.split_of(t, HOLDOUT) == "test"]
        if len(train[name]) < 4:
            raise common.RecipeError(f"{path}: {len(train[name])} training lines after holding out 10%, need at least 4")
    return names, train, test


def yelp_corpus(root: Path, names: tuple[str, str], per_class: int, seed: int) -> dict[str, list[str]]:
    pool, labels = common.read_dataset(datasets.yelp, root, "pool")
    rng = random.Random(seed)
    out = {}
    for name, label in zip(names, (1, 0)):
        group = [t for t, y in zip(pool, labels) if y == label]
        out[name] = rng.sample(group, min(per_class, len(group)))
    if min(len(v) for v in out.values()) < 2:
        raise common.RecipeError("the Yelp pool has fewer than 2 sentences of a class")
    return out


def learn(editor, names: tuple[str, str], texts: dict[str, list[str]], args, source: str) -> None:
    a, b = names
    print(f"learning directions {a!r} and {b!r} from {len(texts[a]):,} + {len(texts[b]):,} texts ({source}) ...",
          file=sys.stderr)
    report = editor.fit_head(args.head_name, texts[a] + texts[b], labels=[a] * len(texts[a]) + [b] * len(texts[b]),
                             description=f"{a} / {b} ({source}, recipes/style_transfer.py)")
    print(f"head {args.head_name!r}: held-out accuracy {report['accuracy']:.3f} on {report['heldout_examples']} texts")
    editor.learn_direction(a, texts[a], texts[b], method=args.method, head=args.head_name, target=a,
                           description=f"{b} -> {a} ({source})")
    editor.learn_direction(b, texts[b], texts[a], method=args.method, head=args.head_name, target=b,
                           description=f"{a} -> {b} ({source})")


# -- recipe -------------------------------------------------------------------------------------------

def transfer(args) -> int:
    editor = common.load_editor(args.model, args.device)
    root = None
    # halves: (direction, texts) pairs, shifted in this order; yelp_targets: judge label per text (Yelp test only)
    halves, yelp_targets = [], None
    if args.data_files:
        names, train, test = file_corpus(args)
        learn(editor, names, train, args, "--data-files")
        if args.input is None:  # A's held-out lines toward B, then B's toward A
            halves = [(names[1], test[names[0]]), (names[0], test[names[1]])]
    else:
        names = tuple(args.names) if args.names else YELP_NAMES
        needed = [args.direction] if args.input else list(names)
        if args.relearn or not all(name in editor.directions for name in needed):
            if args.input and args.direction not in names:
                raise common.RecipeError(f"the model has no direction {args.direction!r} (has "
                                         f"{sorted(editor.directions) or 'none'}) and Yelp teaches only {list(names)}")
            root = common.data_root(args.data)
            learn(editor, names, yelp_corpus(root, names, args.per_class, args.seed), args, "Yelp pool")
        else:
            print(f"reusing the model's directions {needed}", file=sys.stderr)
        if args.input is None:
            root = root or common.data_root(args.data)
            sources, labels = common.read_dataset(datasets.yelp, root, "test")
            negative = [t for t, y in zip(sources, labels) if y == 0]
            positive = [t for t, y in zip(sources, labels) if y == 1]
            halves = [(names[0], negative), (names[1], positive)]
    if args.input:
        halves = [(args.direction, common.read_input(args.input))]
    if args.limit:
        halves = [(d, texts[: args.limit]) for d, texts in halves]
    halves = [(d, texts) for d, texts in halves if texts]
    if not halves:
        raise common.RecipeError("the test set is empty (too few lines held out?): give --input FILE --direction NAME")
    if args.data_files is None and args.input is None:
        yelp_targets = [1 if d == names[0] else 0 for d, texts in halves for _ in texts]

    sources, outputs, rows, notes = [], [], [], []
    for direction_name, texts in halves:
        direction = editor.directions.get(direction_name)
        if direction is None:
            raise common.RecipeError(f"the model has no direction {direction_name!r} "
                                     f"(has {sorted(editor.directions) or 'none'})")
        strength = args.strength
        if strength == "auto" and not (direction.head and direction.head in editor.heads):
            notes.append(f"direction {direction_name!r} names no head of the model: strength 1.0 instead of auto")
            strength = 1.0
        print(f"shifting {len(texts)} texts along {direction_name!r} (strength {strength}) ...", file=sys.stderr)
        results = editor.shift(texts, direction_name, strength, max_strength=args.max_strength, grid=args.grid)
        reached = None
        if direction.head and direction.head in editor.heads and direction.target:
            reached = 100.0 * sum(str(r.scores.get(direction.head)) == direction.target for r in results) / len(results)
        rows.append((direction_name, texts, results, reached))
        sources += texts
        outputs += [r.text for r in results]

    cut = common.truncated(editor, sources)
    if cut:
        notes.append(f"{cut} of {len(sources)} texts are longer than the model's {editor.model.config.max_length} "
                     "tokens and were cut before encoding")

    judge = None
    if yelp_targets is not None:
        print("training the judge on the Yelp pool ...", file=sys.stderr)
        pool, pool_labels = common.read_dataset(datasets.yelp, root, "pool")
        judge = SentimentJudge().fit(pool, pool_labels)

    summary_rows = []
    start = 0
    for direction_name, texts, results, reached in rows:
        outs = [r.text for r in results]
        strengths = [r.strength for r in results if r.strength is not None]
        row = [f"-> {direction_name}", len(texts), common.fmt(sum(strengths) / len(strengths) if strengths else None),
               common.fmt(reached, 1), common.fmt(bleu(outs, texts), 1), unchanged(texts, outs)]
        if judge is not None:
            targets = yelp_targets[start: start + len(texts)]
            row += [common.fmt(judge.accuracy(outs, targets), 1), common.fmt(judge.accuracy(texts, targets), 1)]
        summary_rows.append(row)
        start += len(texts)
    headers = ["shift", "texts", "mean strength", "own head reached %", "self-BLEU", "unchanged"]
    if judge is not None:
        headers += ["judge acc %", "copy-input judge %"]
        total = judge.accuracy(outputs, yelp_targets)
        copy = judge.accuracy(sources, yelp_targets)
        summary_rows.append(["all", len(sources), "", "", common.fmt(bleu(outputs, sources), 1),
                             unchanged(sources, outputs), common.fmt(total, 1), common.fmt(copy, 1)])
    common.print_table(f"style transfer with {args.model!r}", headers, summary_rows)

    example_rows = []
    for direction_name, _, results, _ in rows:
        for r in results[: args.show]:
            verdict = str(r.scores.get(editor.directions[direction_name].head, "-"))
            example_rows.append([r.source_text, r.text, f"-> {direction_name}", common.fmt(r.strength), verdict])
    if example_rows:
        common.print_table("examples", ["source", "output", "direction", "strength", "own head says"], example_rows, left=3)
    for note in notes:
        print(f"note: {note}")
    if judge is not None:
        print("judge: TF-IDF + logistic regression on the whole Yelp pool; it only scores (best-of-1). "
              "'own head reached' is the model's head on the re-encoded output, which strength auto aims for.")

    if args.output:
        common.write_lines(args.output, outputs)
        print(f"wrote {len(outputs)} lines to {args.output}")
    if args.save_model:
        editor.save(args.save_model)
        print(f"saved the model with directions {sorted(editor.directions)} to {args.save_model}")
    judged = (f", judge accuracy {judge.accuracy(outputs, yelp_targets):.1f}% "
              f"(copy-input {judge.accuracy(sources, yelp_targets):.1f}%)") if judge is not None else ""
    print(f"style_transfer: {len(outputs)} texts shifted along {', '.join(repr(r[0]) for r in rows)}{judged}, "
          f"self-BLEU {bleu(outputs, sources):.1f}, unchanged {unchanged(sources, outputs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
