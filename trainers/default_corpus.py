"""Build the default model's training corpus from the public datasets (one sentence per line).

    python -m trainers.default_corpus [--data ../shared/data] [--out runs/default/corpus]

Writes ``train.txt`` (Yelp stand-in pool, Pavlick formality, tweets, AG News titles and
Shakespeare original + modern lines; the benchmarks' ``eval`` splits and every Yelp dev/test
sentence left out), ``valid.txt`` (Yelp dev: the held-out reconstruction set) and ``sources.json``
(how many lines came from where). Yelp text stays lower-cased and tokenized as published, so a
Yelp-style input comes back in the same form; other sources keep their casing with whitespace
collapsed, tweets also lose links and HTML entities.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentedit import datasets
from latentedit.model_folder import atomic_file


def corpus_sources(root: Path) -> dict[str, list[str]]:
    """Training lines per source, before de-duplication."""
    yelp_pool, _ = datasets.yelp(root, "pool")
    original, modern = datasets.shakespeare(root, "train")
    return {
        "yelp": yelp_pool,
        "formality": [r.text for r in datasets.formality(root) if r.split != "eval"],
        "tweets": [t.text for t in datasets.tweets(root) if t.split != "eval"],
        "headlines": [title for title, _, split in datasets.headlines(root) if split != "eval"],
        "shakespeare": [line for line in original + modern if line],
    }


def build(root: Path, out: Path) -> dict:
    sources = corpus_sources(root)
    held_out, _ = datasets.yelp(root, "dev")
    excluded = set(held_out) | set(datasets.yelp(root, "test")[0])
    seen: set[str] = set()
    counts = {}
    lines = []
    for name, texts in sources.items():
        kept = [t for t in texts if t not in excluded and t not in seen and not seen.add(t)]
        counts[name] = {"lines": len(texts), "kept_after_dedup": len(kept)}
        lines += kept
    out.mkdir(parents=True, exist_ok=True)
    for name, texts in (("train.txt", lines), ("valid.txt", held_out)):
        with atomic_file(out / name) as stream:
            stream.write("\n".join(texts) + "\n")
    summary = {"data": str(root), "train_lines": len(lines), "valid_lines": len(held_out), "sources": counts}
    with atomic_file(out / "sources.json") as stream:
        stream.write(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help=f"data folder (default: ${datasets.DATA_ENV} or ../shared/data)")
    parser.add_argument("--out", default="runs/default/corpus", help="output folder")
    args = parser.parse_args(argv)
    try:
        summary = build(datasets.data_root(args.data), Path(args.out))
    except datasets.DataNotFound as error:
        parser.exit(2, f"error: {error}\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
