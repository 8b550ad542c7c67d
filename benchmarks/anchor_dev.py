"""Choose the source anchoring of sentiment shifts on Yelp dev (never the test set).

`shift(..., anchor=A)` decodes with a logit bonus A for every token that continues the source
text (latentedit.decoding.anchor_bonus): larger A keeps more of the source's wording and needs a
larger strength to change its sentiment (with strength "auto", texts that arrive at no strength
anchored are tried again unanchored). This script measures that trade-off on a seeded sample of
Li et al.'s Yelp dev set: negative sentences shifted "positive", positive ones "negative", each
setting scored by

- head %: outputs the model's own ``sentiment`` head (on the re-encoded text) gives the target.
  For strength "auto" the same head picked the strength, so this share is what the editor
  believes it reached, an upper bound on what an independent judge will see;
- dev judge %: outputs a TF-IDF + logistic-regression classifier trained on the Shen stand-in pool
  (the style-transfer benchmark's judge recipe) gives the target. It scores dev outputs to choose
  global settings only: it never guides an edit nor picks among an edit's candidates;
- self-BLEU to the source (corpus BLEU-4, 13a tokenisation);
- score = sqrt(dev judge % x self-BLEU), the benchmark's GM with self-BLEU standing in for ref-BLEU;
- PPL: the outputs' perplexity under a word trigram language model trained on the same pool
  (latentedit.judges.FluencyJudge; lower = more fluent), and its ratio to the dev sources' PPL;
  unknown words %: output words outside that model's vocabulary (broken words land here).

A setting may be chosen only if its PPL ratio is at most ``--max-perplexity-ratio`` (default
1.8: Li et al.'s human rewrites of the test set score 1.83 times their sources' perplexity,
what a human edit costs in fluency under this model). Without that guard the best score went to
word swaps that insert "great" wherever the head accepts it ("i ca n't great how inconsiderate
this pharmacy is great"): the judge and BLEU reward such edits, no reader would.

Every auto setting is measured as it decodes and again with ``revert=True`` (changed word spans
put back to the source's wording while the model's head still accepts; latentedit/revert.py).
With ``--substitutes`` and ``--confidences``, every auto setting is also measured with word swaps
tried first (``substitute=S``: one-word replacements proposed by the decoder under the code moved
S along the direction; latentedit/substitute.py) and with a least head probability for arriving
(``min_confidence=C``); with ``--refines``, every setting is measured starting from source codes
refined that many steps (latentedit/refine.py). The best auto setting by score among the fluent
ones is printed last as ``beams=<B> refine=<N> known_words=<bool> anchor=<A> max_strength=<S>
revert=<bool> substitute=<S> min_confidence=<C> keep_norm=<bool> select=<S>``: the values that
benchmarks/style_transfer.py takes as --beams, --refine, --any-words (when false), --anchor,
--max-strength, --revert, --substitute, --min-confidence and --keep-norm for its headline row.
With ``--keep-norms 0,1`` every auto setting is also measured with its moved codes scaled back
to their source code's norm (``keep_norm=True``; see latentedit.editor.moved); with ``--selects
smallest,closest``, also keeping the arrived text most similar to the source instead of the
smallest strength (``select="closest"``; with revert, partial reverts of each compete), which
style_transfer.py takes as --select. ``--known-words 0,1`` measures every setting with edits that
write any words and with edits that write only words of the model's lexicon or their source
(``editor.known_words``, the default; latentedit/lexicon.py); ``--beams 1,8`` decodes edits
greedily and by beam search with 8 beams (``editor.edit_beams``); ``--length-priors 0,1`` decodes
edits without and with that end-of-text bonus per token past the source's length
(``editor.edit_length_prior``), which style_transfer.py takes as --length-prior.

    python benchmarks/anchor_dev.py                       # the built-in default model, 100 + 100 dev sentences
    python benchmarks/anchor_dev.py --model runs/x/model --per-half 50
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import shlex
import sys
from pathlib import Path

import torch
from common import RESULTS, environment, fmt, load_editor, markdown_table, parse_number_lists, write_json, write_text

from latentedit import datasets
from latentedit.evaluation import corpus_bleu
from latentedit.judges import FluencyJudge, SentimentJudge

HEAD, GOALS = "sentiment", ("positive", "negative")  # goal of the negative half, of the positive half
ANCHORS = (0.0, 4.0, 6.0, 8.0, 10.0)
FIXED_STRENGTHS = (2.0, 4.0, 6.0)
MAX_STRENGTHS = (6.0, 9.0, 12.0)
MAX_PERPLEXITY_RATIO = 1.8  # Li et al.'s human rewrites of the Yelp test set: 1.83 x their sources' perplexity


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"the data folder holding yelp/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--model", default="default", help="model folder or built-in name")
    ap.add_argument("--per-half", type=int, default=100, help="dev sentences per sentiment (seeded sample)")
    ap.add_argument("--anchors", default=",".join(map(str, ANCHORS)), help="anchor weights tried, comma separated")
    ap.add_argument("--strengths", default=",".join(map(str, FIXED_STRENGTHS)), help="fixed strengths tried")
    ap.add_argument("--max-strengths", default=",".join(map(str, MAX_STRENGTHS)), help="max strengths of 'auto' tried")
    ap.add_argument("--substitutes", default="0", help="substitute strengths tried with every auto setting (0: no swaps)")
    ap.add_argument("--confidences", default="0", help="min_confidence values tried with every auto setting")
    ap.add_argument("--refines", default="0", help="refine steps of the source codes tried (0: the encoder's codes; "
                                                   "see latentedit/refine.py), comma separated")
    ap.add_argument("--keep-norms", default="0", help="1: also try every auto setting with keep_norm=True (moved codes "
                                                      "scaled back to their source code's norm); comma separated 0/1")
    ap.add_argument("--known-words", default="1", help="1: edits write only words of the model's lexicon or their "
                                                       "source (editor.known_words; latentedit/lexicon.py), 0: any "
                                                       "words; comma separated 0/1")
    ap.add_argument("--beams", default="1", help="beams of the beam search that decodes edits (editor.edit_beams; 1: "
                                                 "greedy), comma separated")
    ap.add_argument("--length-priors", default="0", help="</s> logit bonus per token an edit runs past its source's "
                                                        "length (editor.edit_length_prior; 0: none), comma separated")
    ap.add_argument("--selects", default="smallest", help="how auto picks among arrived texts, comma separated: "
                                                          "smallest (strength) and/or closest (to the source)")
    ap.add_argument("--grid", type=int, default=8, help="strengths tried by strength='auto'")
    ap.add_argument("--seed", type=int, default=0, help="seed of the dev sample")
    ap.add_argument("--max-perplexity-ratio", type=float, default=MAX_PERPLEXITY_RATIO,
                    help="a setting is chosen only if its outputs' PPL is at most this times the sources' PPL")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(RESULTS / "anchor_dev.json"), help="result JSON (.md beside it)")
    args = ap.parse_args(argv)
    if args.per_half < 1 or args.grid < 1 or args.threads < 1:
        ap.error("--per-half, --grid and --threads must be >= 1")
    if not args.max_perplexity_ratio > 0:
        ap.error("--max-perplexity-ratio must be > 0")
    parse_number_lists(ap, args, ("refines", "anchors", "strengths", "max_strengths", "substitutes", "confidences",
                                  "keep_norms", "known_words", "beams", "length_priors"), may_be_empty=("strengths",),
                       switches=("keep_norms", "known_words"))
    if any(b < 1 or b != int(b) for b in args.beams):
        ap.error("--beams takes whole numbers >= 1, comma separated")
    args.selects = [s.strip() for s in args.selects.split(",") if s.strip()]
    if not args.selects or not set(args.selects) <= {"smallest", "closest"}:
        ap.error("--selects takes smallest and/or closest, comma separated")
    if any(c > 1 for c in args.confidences):
        ap.error("--confidences are probabilities: numbers in [0, 1]")
    return args


def dev_halves(root: Path, per_half: int, seed: int) -> tuple[list[str], list[str]]:
    texts, labels = datasets.yelp(root, "dev")
    rng = random.Random(seed)
    negative = rng.sample([t for t, y in zip(texts, labels) if y == 0], per_half)
    positive = rng.sample([t for t, y in zip(texts, labels) if y == 1], per_half)
    return negative, positive


def dev_judges(root: Path) -> tuple[SentimentJudge, FluencyJudge]:
    """The style-transfer benchmark's judges: TF-IDF + logistic regression and a trigram language
    model, both trained on the Shen pool."""
    pool, labels = datasets.yelp(root, "pool")
    return SentimentJudge().fit(pool, labels), FluencyJudge().fit(pool)


def measure(editor, judges: tuple[SentimentJudge, FluencyJudge], negative: list[str], positive: list[str],
            **shift) -> tuple[list, dict]:
    """Shift negative texts 'positive' and positive ones 'negative': (edit results, their figures)."""
    results = editor.shift(negative, GOALS[0], **shift) + editor.shift(positive, GOALS[1], **shift)
    return results, figures(results, judges, negative, positive)


def figures(results: list, judges: tuple[SentimentJudge, FluencyJudge], negative: list[str], positive: list[str]) -> dict:
    """head %, dev judge %, self-BLEU, score, unknown words %, PPL and PPL ratio to the sources of the edits of
    negative + positive texts (in that order)."""
    judge, fluency = judges
    goals = [GOALS[0]] * len(negative) + [GOALS[1]] * len(positive)
    outputs = [r.text for r in results]
    head = 100.0 * sum(r.scores[HEAD] == goal for r, goal in zip(results, goals)) / len(results)
    judged = judge.accuracy(outputs, [1] * len(negative) + [0] * len(positive))
    self_bleu = corpus_bleu(outputs, negative + positive)
    perplexity = fluency.perplexity(outputs)
    return {"head": head, "judge": judged, "self_bleu": self_bleu, "score": math.sqrt(judged * self_bleu),
            "unknown_words": fluency.unknown_rate(outputs), "perplexity": perplexity,
            "perplexity_ratio": perplexity / fluency.perplexity(negative + positive)}


def choose(rows: list[dict], max_ratio: float) -> dict:
    """The auto setting with the best score among those whose PPL ratio is at most max_ratio (the
    best score overall, marked ``"fluent": False``, when none is)."""
    auto = [r for r in rows if r["max_strength"] is not None]
    fluent = [r for r in auto if r["perplexity_ratio"] <= max_ratio]
    return {**max(fluent or auto, key=lambda r: r["score"]), "fluent": bool(fluent)}


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = ["# Source anchoring of sentiment shifts, chosen on Yelp dev", "",
             f"`{result['command']}`", "",
             f"{result['environment']['date']}; {2 * s['per_half']} Li et al. dev sentences (seed {s['seed']}), "
             "negative ones shifted 'positive', positive ones 'negative'. head % = outputs the model's own "
             "sentiment head gives the target (for strength auto it also picked the strength, so it is an upper "
             "bound); dev judge % = outputs the style-transfer judge's recipe (TF-IDF + logistic regression on the "
             "Shen pool) gives the target, on dev only, to choose these settings; score = sqrt(dev judge % x "
             "self-BLEU); PPL = perplexity under a word trigram language model trained on the same pool (the "
             f"sources: {s['source_perplexity']:.1f}), ratio = PPL / the sources' PPL; a setting is chosen only if its "
             f"ratio is at most {s['max_perplexity_ratio']:g}. The test set is not used.", ""]
    rows = [[str(r.get("beams", 1)), f"{r.get('length_prior', 0):g}", str(r.get("refine", 0)),
             "yes" if r.get("known_words", False) else "no",
             fmt(r["anchor"], 0), str(r["strength"]), "yes" if r.get("keep_norm") else "no",
             r.get("select", "smallest") if r["max_strength"] is not None else "-",
             "yes" if r.get("revert") else "no", f"{r.get('substitute', 0):g}",
             f"{r.get('min_confidence', 0):g}", fmt(r["head"]), fmt(r["judge"]), fmt(r["self_bleu"]), fmt(r["score"]),
             fmt(r.get("unknown_words")), fmt(r.get("perplexity")), fmt(r.get("perplexity_ratio"), 2)]
            for r in result["rows"]]
    lines += markdown_table(["beams", "length prior", "refine", "known words", "anchor", "strength", "keep norm", "select",
                             "revert", "swaps at", "min confidence",
                             "head %", "dev judge %", "self-BLEU", "score", "unknown words %", "PPL", "ratio"], rows)
    best = result["chosen"]
    which = "best auto score among the fluent settings" if best.get("fluent", True) else "best auto score; NO setting was fluent"
    lines += ["", f"**Chosen ({which}): {best.get('beams', 1)} beam(s), "
              f"length prior {best.get('length_prior', 0):g}, refine {best.get('refine', 0)}, known words "
              f"{'yes' if best.get('known_words', False) else 'no'}, anchor {best['anchor']:g}, "
              f"max strength {best['max_strength']:g}, keep norm {'yes' if best.get('keep_norm') else 'no'}, "
              f"select {best.get('select', 'smallest')}, "
              f"revert {'yes' if best.get('revert') else 'no'}, swaps at {best.get('substitute', 0):g}, "
              f"min confidence {best.get('min_confidence', 0):g}** "
              f"(head {best['head']:.1f}%, dev judge {best['judge']:.1f}%, self-BLEU {best['self_bleu']:.1f}).", ""]
    return "\n".join(lines)


def open_sentiment_editor(args) -> tuple[object, Path, list[str], list[str]] | int:
    """(quiet editor of args.model, data root of args.data, negative and positive dev sentences of
    args.per_half / args.seed) with torch at args.threads, or the exit code after saying why not:
    0 when the data is missing (skipped), 2 when the model is missing or lacks the
    'positive'/'negative' directions or the sentiment head."""
    torch.set_num_threads(args.threads)
    try:
        root = datasets.data_root(args.data)
    except datasets.DataNotFound as error:
        print(f"skipped: {error}")
        return 0
    editor, why = load_editor(args.model)
    if editor is None:
        print(f"error: {why}", file=sys.stderr)
        return 2
    missing = [g for g in GOALS if g not in editor.directions] + ([HEAD] if HEAD not in editor.heads else [])
    if missing:
        print(f"error: the model lacks {missing}: this needs 'positive'/'negative' directions and a {HEAD!r} head",
              file=sys.stderr)
        return 2
    editor.quiet = True
    return editor, root, *dev_halves(root, args.per_half, args.seed)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opened = open_sentiment_editor(args)
    if isinstance(opened, int):
        return opened
    editor, root, negative, positive = opened
    judges = dev_judges(root)
    rows = []
    for beams, prior, known, refine, anchor in itertools.product(args.beams, args.length_priors, args.known_words,
                                                                 args.refines, args.anchors):
        editor.refine, editor.known_words, editor.edit_beams = int(refine), bool(known), int(beams)
        editor.edit_length_prior = prior
        settings = [(f"{s:g}", dict(strength=s)) for s in args.strengths]
        settings += [(f"auto <= {m:g}", dict(strength="auto", max_strength=m, grid=args.grid, revert=revert,
                                              substitute=sub, min_confidence=confidence, keep_norm=bool(keep),
                                              select=select))
                     for keep in args.keep_norms for m in args.max_strengths for select in args.selects
                     for revert in (False, True)
                     for sub in args.substitutes for confidence in args.confidences]
        for label, shift in settings:
            row = {"refine": int(refine), "beams": int(beams), "length_prior": prior,
                   "known_words": bool(known) and editor.lexicon is not None,
                   "anchor": anchor, "strength": label, "max_strength": shift.get("max_strength"),
                   "revert": shift.get("revert", False), "substitute": shift.get("substitute", 0.0),
                   "min_confidence": shift.get("min_confidence", 0.0), "keep_norm": shift.get("keep_norm", False),
                   "select": shift.get("select", "smallest"),
                   **measure(editor, judges, negative, positive, anchor=anchor, **shift)[1]}
            rows.append(row)
            print(f"  {beams:g} beam(s), length prior {prior:g}, refine {refine:g}"
                  f"{', known words' if row['known_words'] else ''}, "
                  f"anchor {anchor:g}, strength {label}{', keep norm' if row['keep_norm'] else ''}"
                  f"{', closest' if row['select'] == 'closest' else ''}"
                  f"{', revert' if row['revert'] else ''}, swaps at "
                  f"{row['substitute']:g}, confidence {row['min_confidence']:g}: head {row['head']:.1f}%, "
                  f"dev judge {row['judge']:.1f}%, self-BLEU {row['self_bleu']:.1f}, score {row['score']:.1f}, "
                  f"PPL {row['perplexity']:.1f}", file=sys.stderr)
    chosen = choose(rows, args.max_perplexity_ratio)
    result = {"command": shlex.join(["python", "benchmarks/anchor_dev.py", *(sys.argv[1:] if argv is None else argv)]),
              "environment": environment(args.threads),
              "settings": {"model": args.model, "per_half": args.per_half, "grid": args.grid, "seed": args.seed,
                           "max_perplexity_ratio": args.max_perplexity_ratio,
                           "source_perplexity": judges[1].perplexity(negative + positive)},
              "rows": rows, "chosen": chosen}
    out = Path(args.out)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))
    print(f"beams={chosen.get('beams', 1)} length_prior={chosen.get('length_prior', 0):g} refine={chosen['refine']} "
          f"known_words={chosen['known_words']} "
          f"anchor={chosen['anchor']:g} max_strength={chosen['max_strength']:g} "
          f"revert={chosen['revert']} substitute={chosen['substitute']:g} min_confidence={chosen['min_confidence']:g} "
          f"keep_norm={chosen.get('keep_norm', False)} select={chosen.get('select', 'smallest')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
