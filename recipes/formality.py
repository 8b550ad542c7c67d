"""Make informal sentences formal with the "formal" direction, rated before and after by an independent judge.

    python recipes/formality.py                                   # built-in "default" model, Pavlick eval split
    python recipes/formality.py --model runs/x/model --strength 1.5 --output formal.txt
    python recipes/formality.py --input chat.txt --output chat.formal.txt

Sources: the informal sentences (mean human rating < 0) of the `eval` split of Pavlick &
Tetreault's ratings, or every line of --input FILE (an empty line is an error, so that --output
stays line-aligned). Each is shifted along --direction ("formal") at --strength: "auto" (the
default) takes, per sentence, the smallest of --grid strengths up to --max-strength whose decoded
text the direction's head rates above the source; a direction without a head uses 1.0.

When the model has no such direction (or with --relearn), it is learned here from the `head`
split (ratings >= 1 against ratings <= -1), with a regression head --head-name fitted on the
same split's ratings to steer strength "auto".

The judge, a TF-IDF (word 1-2 grams + character 2-4 grams) + ridge regression of the human
ratings (latentedit.judges.FormalityJudge), is trained on the `judge` split only; it rates each
sentence from -3 (informal) to 3 (formal) and never guides nor picks an edit. Printed: a table of
sentences with the judge's rating before and after, the mean gain against copy-input's (0), the
share rated higher, self-BLEU (13a) to the source, and the model head's own gain.
"""

from __future__ import annotations

import sys

import numpy as np
import recipe_common as common

from latentedit import datasets
from latentedit.judges import FormalityJudge, formality_scores


def parse_args(argv):
    ap = common.parser(__doc__)
    ap.add_argument("--input", metavar="FILE", help="shift every line of FILE instead of the Pavlick eval sentences")
    ap.add_argument("--direction", default="formal", help="direction to shift along (default: formal)")
    ap.add_argument("--relearn", action="store_true", help="learn the direction even when the model has it")
    ap.add_argument("--head-name", default="formality_recipe",
                    help="name of the head fitted when the direction is learned here (default: formality_recipe)")
    common.add_strength_options(ap)
    ap.add_argument("--limit", type=int, default=0, help="shift only the first N sentences (0 = all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the judge's held-out split (default: 0)")
    ap.add_argument("--show", type=int, default=10, help="examples in the table (default: 10)")
    ap.add_argument("--output", help="write the shifted sentences, one per line, atomically")
    ap.add_argument("--save-model", metavar="DIR", help="save the model with its (learned) direction to DIR")
    args = ap.parse_args(argv)
    if args.limit < 0 or args.show < 0:
        ap.error("--limit and --show must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return common.run(lambda: formalize(args), args.threads)


def learn(editor, rated: list, args) -> None:
    head_rows = [r for r in rated if r.split == "head"]
    formal = [r.text for r in head_rows if r.score >= 1.0]
    informal = [r.text for r in head_rows if r.score <= -1.0]
    if len(head_rows) < 10 or len(formal) < 2 or len(informal) < 2:
        raise common.RecipeError(f"the head split has {len(formal)} formal (>= 1) and {len(informal)} informal (<= -1) "
                                 "sentences: too few to learn a direction")
    print(f"learning {args.direction!r} from {len(formal):,} formal and {len(informal):,} informal head-split "
          "sentences ...", file=sys.stderr)
    report = editor.fit_head(args.head_name, [r.text for r in head_rows], values=[r.score for r in head_rows],
                             description="formality, Pavlick & Tetreault scale -3..3 (recipes/formality.py)")
    print(f"head {args.head_name!r}: held-out R2 {report['r2']:.3f} on {report['heldout_examples']} sentences")
    editor.learn_direction(args.direction, formal, informal, head=args.head_name, target="max",
                           description="informal -> formal (Pavlick ratings >= 1 vs <= -1)")


def formalize(args) -> int:
    rated = common.read_dataset(datasets.formality, common.data_root(args.data))  # the judge needs it in any case
    judge_rows = [r for r in rated if r.split == "judge"]
    if len(judge_rows) < 10:
        raise common.RecipeError(f"the judge split has {len(judge_rows)} rated sentences, need at least 10")
    if args.input:
        sources, origin = common.read_input(args.input), args.input
    else:
        sources, origin = [r.text for r in rated if r.split == "eval" and r.score < 0], "informal eval-split sentences"
    if args.limit:
        sources = sources[: args.limit]
    if not sources:
        raise common.RecipeError("no sentence to shift (the eval split holds no informal sentence)")

    editor = common.load_editor(args.model, args.device)
    if args.relearn or args.direction not in editor.directions:
        learn(editor, rated, args)
    else:
        print(f"reusing the model's direction {args.direction!r}", file=sys.stderr)
    direction = editor.directions[args.direction]
    strength, notes = args.strength, []
    if strength == "auto" and not (direction.head and direction.head in editor.heads):
        notes.append(f"direction {args.direction!r} names no head of the model: strength 1.0 instead of auto")
        strength = 1.0

    print(f"training the judge on {len(judge_rows):,} judge-split sentences ...", file=sys.stderr)
    judge = FormalityJudge(seed=args.seed).fit([r.text for r in judge_rows], [r.score for r in judge_rows])
    print(f"shifting {len(sources)} sentences along {args.direction!r} (strength {strength}) ...", file=sys.stderr)
    results = editor.shift(sources, args.direction, strength, max_strength=args.max_strength, grid=args.grid)
    outputs = [r.text for r in results]
    before, after = judge.predict(sources), judge.predict(outputs)
    shifted, copy = formality_scores(sources, outputs, judge), formality_scores(sources, sources, judge)
    head = direction.head if direction.head in editor.heads else None
    head_gain = float(np.mean([r.scores[head] - r.source_scores[head] for r in results])) if head else None
    cut = common.truncated(editor, sources)
    if cut:
        notes.append(f"{cut} of {len(sources)} sentences are longer than the model's "
                     f"{editor.model.config.max_length} tokens and were cut before encoding")

    rows = []
    for i, r in enumerate(results[: args.show]):
        rows.append([r.source_text, r.text, common.fmt(r.strength), f"{before[i]:+.2f}", f"{after[i]:+.2f}",
                     f"{after[i] - before[i]:+.2f}"])
    if rows:
        common.print_table(f"{origin}: judge's formality rating (-3 informal .. 3 formal) before and after",
                           ["source", "output", "strength", "before", "after", "gain"], rows, left=2)
    strengths = [r.strength for r in results if r.strength is not None]
    label = f"latentedit shift {args.direction!r}, strength {strength}"
    common.print_table(
        f"{len(sources)} sentences; judge: Pearson r {common.fmt(judge.heldout_r, 2)} on {judge.heldout_examples} "
        "held-out judge-split sentences (it never guides nor selects: best-of-1)",
        ["system", "mean strength", "source rating", "output rating", "gain", "improved %", "self-BLEU", "unchanged",
         "own head gain"],
        [[label, common.fmt(sum(strengths) / len(strengths) if strengths else None), common.fmt(shifted["source_rating"]),
          common.fmt(shifted["output_rating"]), common.fmt(shifted["gain"], sign=True), common.fmt(shifted["improved_share"], 1),
          common.fmt(shifted["self_bleu"], 1), shifted["unchanged"], common.fmt(head_gain, sign=True)],
         ["copy-input", "", common.fmt(copy["source_rating"]), common.fmt(copy["output_rating"]),
          common.fmt(copy["gain"], sign=True), common.fmt(copy["improved_share"], 1), common.fmt(copy["self_bleu"], 1),
          copy["unchanged"], ""]])
    for note in notes:
        print(f"note: {note}")
    if head:
        print(f"own head gain: the model's {head!r} head on the re-encoded output minus on the source "
              "(it steers strength auto; the judge does not)")

    if args.output:
        common.write_lines(args.output, outputs)
        print(f"wrote {len(outputs)} lines to {args.output}")
    if args.save_model:
        editor.save(args.save_model)
        print(f"saved the model with direction {args.direction!r} to {args.save_model}")
    print(f"formality: {len(sources)} sentences along {args.direction!r}, judge gain {shifted['gain']:+.3f} "
          f"(copy-input +0.000), improved {shifted['improved_share']:.0f}%, self-BLEU {shifted['self_bleu']:.1f}, "
          f"unchanged {shifted['unchanged']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
