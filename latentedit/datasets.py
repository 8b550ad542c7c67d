"""Readers for the public datasets the default model, its heads and the benchmarks use.

The datasets live outside the package (a user's machine may not have them). Every reader takes
the data folder, found by :func:`data_root`: an explicit path, else ``$LATENTEDIT_DATA``, else
``../shared/data`` beside the working directory or the repository. Splits that the package
defines itself (formality, tweets, headlines) are a pure function of each example's id, so the
head that guides an edit and the judge that scores it never see the same examples.

>>> split_of("some-id", {"head": 0.5, "judge": 0.3, "eval": 0.2})
'judge'
"""

from __future__ import annotations

import csv
import hashlib
import html
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DataFormatError

#: Environment variable naming the data folder.
DATA_ENV = "LATENTEDIT_DATA"

#: Splits of the datasets without an official one: head = fit built-in heads and directions,
#: judge = train the benchmarks' independent judges, eval = the sentences benchmarks edit.
SPLITS = {"head": 0.6, "judge": 0.25, "eval": 0.15}


class DataNotFound(DataFormatError):
    """The data folder (or one dataset inside it) is not on this machine."""


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path``, else ``$LATENTEDIT_DATA``, else ``../shared/data`` if it exists."""
    candidates = [Path(path)] if path else []
    if not candidates and os.environ.get(DATA_ENV):
        candidates = [Path(os.environ[DATA_ENV])]
    if not candidates:
        repo = Path(__file__).resolve().parent.parent
        candidates = [Path.cwd().parent / "shared" / "data", repo.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise DataNotFound(f"data folder not found (looked in {', '.join(map(str, candidates))}); "
                       f"pass --data PATH or set {DATA_ENV} to the folder holding yelp/, formality/, tweets/ ...")


def split_of(key: str, fractions: dict[str, float] = SPLITS) -> str:
    """Deterministic split name for an example id: the same id always lands in the same split."""
    position = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    total = 0.0
    for name, fraction in fractions.items():
        total += fraction
        if position < total:
            return name
    return name


def _dataset(root: Path, name: str) -> Path:
    folder = Path(root) / name
    if not folder.is_dir():
        raise DataNotFound(f"{folder} not found: the {name!r} dataset is missing from the data folder")
    return folder


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


# -- Yelp (Li et al. 2018 dev/test, Shen et al. 2017 stand-in training pool) ------------------

def yelp(root: Path, split: str) -> tuple[list[str], list[int]]:
    """Yelp sentences and labels (0 negative, 1 positive). split: "pool" (Shen 2017 stand-in
    training pool, 181k), "dev" (Li, 4000) or "test" (Li, 500 negative then 500 positive)."""
    folder = _dataset(root, "yelp")
    names = {"pool": "shen2017_heldout/sentiment.heldout.{}", "dev": "sentiment.dev.{}", "test": "sentiment.test.{}"}
    if split not in names:
        raise ValueError(f"unknown Yelp split {split!r}; choose one of {sorted(names)}")
    texts, labels = [], []
    for label in (0, 1):
        lines = [line for line in _lines(folder / names[split].format(label)) if line]
        texts += lines
        labels += [label] * len(lines)
    return texts, labels


def yelp_references(root: Path) -> list[list[str]]:
    """The 4 human references of Luo et al. 2019 for each of the 1000 test sentences (test order)."""
    folder = _dataset(root, "yelp") / "references_luo2019"
    per_reference = [_lines(folder / f"reference{k}.0") + _lines(folder / f"reference{k}.1") for k in range(4)]
    for k, lines in enumerate(per_reference):
        if len(lines) < 1000:
            raise DataFormatError(f"{folder}/reference{k}.*: expected 1000 lines, found {len(lines)}")
    return [[refs[i] for refs in per_reference] for i in range(1000)]


def yelp_peer_outputs(root: Path) -> dict[str, list[str]]:
    """Published systems' outputs on the Yelp test set: file stem -> 1000 lines (neg->pos first)."""
    folder = _dataset(root, "yelp") / "peer_outputs"
    return {path.stem: path.read_text(encoding="utf-8").splitlines()[:1000] for path in sorted(folder.glob("*.txt"))}


# -- Formality (Pavlick & Tetreault 2016) ------------------------------------------------------

@dataclass(frozen=True)
class Rated:
    text: str
    score: float  # mean formality rating, -3 (informal) .. 3 (formal)
    split: str
    genre: str = ""  # answers, blog, email or news


def formality(root: Path) -> list[Rated]:
    """Pavlick's 11k rated sentences, each with its package split (by sentence id). The 11 rows
    without annotator scores (their mean_score 0 is a placeholder, not "neutral") are left out."""
    path = _dataset(root, "formality") / "pavlick2016_formality_all.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Rated(_clean(row["sentence"]), float(row["mean_score"]), split_of(row["sentence_id"]), row["genre"])
            for row in rows if _clean(row["sentence"]) and (row.get("annotator_scores") or "").strip()]


# -- Tweets -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tweet:
    text: str
    likes: int
    year: int
    split: str

    @property
    def log_likes(self) -> float:
        return math.log1p(self.likes)


_URL = re.compile(r"https?://\S+|www\.\S+")


def clean_tweet(text: str) -> str:
    """Unescape HTML entities, drop links, collapse whitespace."""
    return _clean(_URL.sub(" ", html.unescape(text)))


def tweets(root: Path) -> list[Tweet]:
    """Tweets with their like counts and year (engagement grew by orders of magnitude over the years,
    so compare likes within a year). Retweets and tweets that are only a link are left out."""
    folder = _dataset(root, "tweets")
    path = next(iter(sorted(folder.glob("*.csv"))), None)
    if path is None:
        raise DataNotFound(f"{folder} holds no .csv file")
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = clean_tweet(row["text"])
            if not text or text.startswith("RT @") or not row["likes"].isdigit():
                continue
            out.append(Tweet(text, int(row["likes"]), int(row["created_at"][:4]), split_of(row["id"])))
    return out


# -- AG News titles and Shakespeare ----------------------------------------------------------------

def headlines(root: Path) -> list[tuple[str, str, str]]:
    """AG News test titles as (title, topic, split)."""
    path = _dataset(root, "headlines") / "ag_news_test_titles.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return [(_clean(row["title"]), row["label_name"], split_of(row["title"])) for row in csv.DictReader(f)
                if _clean(row["title"])]


def shakespeare(root: Path, split: str = "train") -> tuple[list[str], list[str]]:
    """Aligned (original, modern) lines; split: train, valid or test."""
    folder = _dataset(root, "shakespeare")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"unknown Shakespeare split {split!r}; choose train, valid or test")
    return _lines(folder / f"{split}.original"), _lines(folder / f"{split}.modern")


def _clean(text: str) -> str:
    return " ".join(text.split())
