"""Compare ways to learn the sentiment directions on Yelp dev (never the test set).

Each method learns `positive` and `negative` from the same balanced sample of the Yelp stand-in
pool (as trainers/build_default.py does), then shifts seeded dev samples with strength "auto"
and source anchoring (defaults: the settings benchmarks/anchor_dev.py chose):

- mean: the difference of the two classes' mean codes (the library's default, shipped);
- probe: the normal of a logistic-regression probe, scaled as the library does (the same progress
  along the normal as the mean difference: ``learn_direction(method="probe")``);
- paired: ``learn_direction(method="paired")``, the mean difference of content-matched pairs
  (each source-class code and its nearest target-class code), as long as the mean difference;
- local difference (k): per sentence, the mean of its k nearest target-class pool codes minus the
  mean of its k nearest source-class ones (a per-cluster direction);
- local toward (k): per sentence, the mean of its k nearest target-class pool codes minus its code.

"..., mean's norm" rows rescale each vector to the mean difference's length, so that a strength
moves every method equally far; the local rows always do. Columns as in anchor_dev.py (head %:
the model's own head on the re-encoded output, an upper bound; dev judge %: the benchmark's judge
recipe on dev outputs, to choose a method only; self-BLEU; score = sqrt(dev judge % x self-BLEU)),
plus VADER %: the lexicon scorer of latentedit.judges, independent of the model and of the judge
(blank without vaderSentiment).

    python benchmarks/direction_dev.py                  # the built-in default model
    python benchmarks/direction_dev.py --model runs/x/model --per-half 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from anchor_dev import GOALS, dev_judges, figures, open_sentiment_editor
from common import RESULTS, environment, fmt, markdown_table, write_json, write_text

from latentedit import datasets
from latentedit.directions import learn_direction
from latentedit.judges import vader_accuracy
from trainers.build_default import sentiment_direction_texts

#: label -> (how, option): a library method and whether to rescale it to the mean's norm, or a
#: per-sentence ("local") kind and its k
METHODS = {
    "mean": ("mean", False), "probe": ("probe", False), "probe, mean's norm": ("probe", True),
    "paired": ("paired", False),
    "local difference (k=20)": ("local difference", 20), "local difference (k=200)": ("local difference", 200),
    "local toward (k=20)": ("local toward", 20), "local toward (k=200)": ("local toward", 200),
}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"the data folder holding yelp/ (default: ${datasets.DATA_ENV}, else ../shared/data)")
    ap.add_argument("--model", default="default", help="model folder or built-in name")
    ap.add_argument("--per-half", type=int, default=100, help="dev sentences per sentiment (seeded sample)")
    ap.add_argument("--per-class", type=int, default=20000, help="pool sentences per class the directions learn from")
    ap.add_argument("--anchor", type=float, default=8.0, help="source anchoring of the shifts")
    ap.add_argument("--max-strength", type=float, default=9.0, help="largest strength tried by strength='auto'")
    ap.add_argument("--grid", type=int, default=8, help="strengths tried by strength='auto'")
    ap.add_argument("--seed", type=int, default=0, help="seed of the dev sample")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(RESULTS / "direction_dev.json"), help="result JSON (.md beside it)")
    args = ap.parse_args(argv)
    if min(args.per_half, args.per_class, args.grid, args.threads) < 1 or args.anchor < 0 or args.max_strength <= 0:
        ap.error("--per-half, --per-class, --grid, --threads and --max-strength must be positive, --anchor >= 0")
    return args


def pool_codes(editor, root: Path, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes of the pool sample the shipped directions learn from: (positive codes, negative codes)."""
    positive, negative = sentiment_direction_texts(root, per_class)
    return editor.encode(positive), editor.encode(negative)


def vectors(method: str, codes: torch.Tensor, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Per-sentence vectors (N, D) of one method (a key of METHODS) for codes (N, D) moving from
    the ``source`` pool codes toward the ``target`` ones."""
    how, option = METHODS[method]
    length = learn_direction("x", target, source, "mean").vector.norm()
    if not how.startswith("local"):
        vector = learn_direction("x", target, source, how).vector
        return (vector / vector.norm().clamp(min=1e-12) * length if option else vector).expand_as(codes)

    def near(pool: torch.Tensor) -> torch.Tensor:  # the mean of each code's k nearest pool codes: (N, D)
        return pool[torch.cdist(codes, pool).topk(min(option, len(pool)), largest=False).indices].mean(1)

    near_target = near(target)
    if how == "local difference":
        local = near_target - near(source)
    else:  # local toward
        local = near_target - codes
    return local / local.norm(dim=-1, keepdim=True).clamp(min=1e-12) * length


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = ["# Sentiment directions: mean difference against probe normals, paired and local directions, on Yelp dev", "",
             f"`python benchmarks/direction_dev.py --model {s['model']} --per-half {s['per_half']}`", "",
             f"{result['environment']['date']}; {2 * s['per_half']} Li et al. dev sentences (seed {s['seed']}), "
             f"strength auto <= {s['max_strength']:g} ({s['grid']} steps), anchor {s['anchor']:g}; directions from "
             f"{s['per_class']} pool sentences per class. head % = the model's own sentiment head on the re-encoded "
             "output (it also picked the strength: an upper bound); dev judge % = the style-transfer judge's recipe "
             "(TF-IDF + logistic regression on the Shen pool) on dev outputs; VADER % = the lexicon scorer; "
             "score = sqrt(dev judge % x self-BLEU). The test set is not used.", ""]
    rows = [[r["method"], fmt(r["norm"], 2), fmt(r["head"]), fmt(r["judge"]), fmt(r["vader"]), fmt(r["self_bleu"]),
             fmt(r["mean_strength"], 2), fmt(r["score"])] for r in result["rows"]]
    lines += markdown_table(["direction", "norm", "head %", "dev judge %", "VADER %", "self-BLEU", "mean strength",
                             "score"], rows)
    best = max(result["rows"], key=lambda r: r["score"])
    lines += ["", f"**Best by score: {best['method']}.**", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opened = open_sentiment_editor(args)
    if isinstance(opened, int):
        return opened
    editor, root, negative, positive = opened
    codes, judges = pool_codes(editor, root, args.per_class), dev_judges(root)
    shift = dict(strength="auto", max_strength=args.max_strength, grid=args.grid, anchor=args.anchor)
    rows = []
    pools = dict(zip(GOALS, (codes, codes[::-1])))  # goal -> (target-class codes, source-class codes)
    for method in METHODS:
        outputs = []
        for texts, goal in ((negative, GOALS[0]), (positive, GOALS[1])):
            start = editor.encode(texts)
            moves = vectors(method, start, *pools[goal])
            outputs += editor.shift_codes(start, texts, goal, vectors=moves, **shift)
        row = figures(outputs, judges, negative, positive)
        vader = vader_accuracy([r.text for r in outputs], [1] * len(negative) + [0] * len(positive))
        rows.append({"method": method, "norm": sum(float(r.latent.sub(r.source_latent).norm() / r.strength)
                                                   for r in outputs) / len(outputs),
                     **row, "vader": vader, "mean_strength": sum(r.strength for r in outputs) / len(outputs)})
        print(f"  {method}: head {row['head']:.1f}%, dev judge {row['judge']:.1f}%, self-BLEU {row['self_bleu']:.1f}, "
              f"score {row['score']:.1f}",
              file=sys.stderr)
    result = {"environment": environment(args.threads), "rows": rows,
              "settings": {"model": args.model, "per_half": args.per_half, "per_class": args.per_class,
                           "anchor": args.anchor, "max_strength": args.max_strength, "grid": args.grid, "seed": args.seed}}
    out = Path(args.out)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))
    best = max(rows, key=lambda r: r["score"])
    print(f"best={best['method']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
