"""Rebuild latentedit/samples/sample_reviews.tsv from the Shen et al. 2017 Yelp held-out files.

Usage: python benchmarks/make_sample.py [--data DIR] [--out FILE]

DIR is the shared data folder holding yelp/shen2017_heldout/sentiment.heldout.{0,1};
it defaults to $LATENTEDIT_DATA, else ../shared/data relative to the repository root.
Selection (deterministic): per class, in file order, keep each sentence the first time
it appears if it has 4 to 12 whitespace tokens and no tab; take the first 200.
"""

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_CLASS = 200
MIN_TOKENS, MAX_TOKENS = 4, 12


def pick(path: Path, n: int = PER_CLASS) -> list[str]:
    seen: set[str] = set()
    chosen: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = line.strip()
            if "\t" in text or text in seen or not MIN_TOKENS <= len(text.split()) <= MAX_TOKENS:
                continue
            seen.add(text)
            chosen.append(text)
            if len(chosen) == n:
                return chosen
    sys.exit(f"error: {path} has only {len(chosen)} eligible sentences, need {n}")


def main() -> None:
    default = os.environ.get("LATENTEDIT_DATA") or str(REPO.parent / "shared" / "data")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=default, help=f"shared data folder (default: {default})")
    ap.add_argument("--out", default=str(REPO / "latentedit" / "samples" / "sample_reviews.tsv"))
    args = ap.parse_args()

    src = Path(args.data) / "yelp" / "shen2017_heldout"
    files = [src / f"sentiment.heldout.{label}" for label in (0, 1)]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        sys.exit(
            f"error: Yelp held-out files not found: {', '.join(missing)}\n"
            "Pass --data DIR (or set LATENTEDIT_DATA) to the folder that contains "
            "yelp/shen2017_heldout/."
        )

    rows = [(text, label) for label, p in enumerate(files) for text in pick(p)]
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("text\tlabel\n")
        f.writelines(f"{text}\t{label}\n" for text, label in rows)
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
