"""Independent judges for the benchmarks: they score edits and never guide or select them.

A judge is trained on data that neither the model's heads nor the benchmark's test sentences
come from (DESIGN.md section 5): the sentiment judge on the Shen et al. 2017 stand-in pool, the
formality judge on the ``judge`` split of Pavlick & Tetreault's ratings.

- :class:`SentimentJudge`: TF-IDF of word 1-2 grams + logistic regression (C = 2); predicts 0/1.
- :class:`FormalityJudge`: TF-IDF of word 1-2 grams and character 2-4 grams + ridge regression;
  predicts a formality rating (-3 informal .. 3 formal).
- :class:`FluencyJudge`: a word trigram language model (interpolated Kneser-Ney); scores the
  perplexity of outputs (lower = more fluent) and their share of unknown words.
- :func:`vader_accuracy`: the lexicon-based VADER scorer (``pip install latentedit[bench]``).
- :func:`transfer_scores` / :func:`formality_scores` / :func:`fluency_scores`: the numbers the
  benchmarks report.

BLEU here is :func:`latentedit.evaluation.corpus_bleu` on text tokenised by
:func:`tokenize_13a` (the ``13a`` tokenizer of mteval-v13a.pl and sacreBLEU, which splits
punctuation other than the apostrophe off words: ``great!`` and ``great !`` match); the figures
of DESIGN.md section 5 were computed that way. ``tokenize="none"`` splits on whitespace only.

>>> tokenize_13a("it's great, really!")
"it's great , really !"
>>> round(geometric_mean(3.6, 64.2), 1)
15.2
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

from .errors import InputError
from .evaluation import corpus_bleu

#: what :func:`vader_accuracy` reports when vaderSentiment is missing
VADER_MISSING = "vaderSentiment is not installed (pip install 'latentedit[bench]'): VADER accuracy not computed"
TOKENIZERS = ("13a", "none")

# mteval-v13a.pl's tokenisation (as in sacreBLEU's tokenizer_13a), applied after its unescaping
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # punctuation and symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period and comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash when preceded by a digit
]


def tokenize_13a(text: str) -> str:
    """The 13a tokenisation of mteval-v13a.pl / sacreBLEU: tokens joined by single spaces."""
    text = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in text:
        text = text.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    text = f" {text} "
    for pattern, replacement in _13A_RULES:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], tokenize: str = "13a") -> float:
    """Corpus BLEU (0..100) of :func:`~latentedit.evaluation.corpus_bleu` after tokenising every text."""
    if tokenize not in TOKENIZERS:
        raise InputError(f"tokenize must be one of {TOKENIZERS}, got {tokenize!r}")
    tok = tokenize_13a if tokenize == "13a" else (lambda text: " ".join(text.split()))
    refs = [tok(r) if isinstance(r, str) else [tok(x) for x in r] for r in references]
    return corpus_bleu([tok(h) for h in hypotheses], refs)


def geometric_mean(a: float, b: float) -> float:
    """sqrt(a * b), the usual single figure of a style transfer system (accuracy x BLEU)."""
    return math.sqrt(max(a, 0.0) * max(b, 0.0))


def _texts(texts, what: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise InputError(f"{what} must be a list of strings")
    if not all(isinstance(t, str) for t in texts):
        raise InputError(f"{what} must hold only strings")
    return list(texts)


class SentimentJudge:
    """TF-IDF (word 1-2 grams, lower-cased) + logistic regression; labels 0 (negative) / 1 (positive).

    Deterministic: the same texts and labels give the same judge. On the Yelp stand-in pool it
    reproduces the judge accuracies of DESIGN.md section 5 within about 1 point.
    """

    def __init__(self, C: float = 2.0, ngram_range: tuple[int, int] = (1, 2), max_iter: int = 1000):
        self.C, self.ngram_range, self.max_iter = C, ngram_range, max_iter
        self.vectorizer = self.classifier = None

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "SentimentJudge":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts, labels = _texts(texts, "texts"), np.asarray(labels)
        if len(texts) != len(labels) or set(labels.tolist()) != {0, 1}:
            raise InputError("give one label (0 or 1) per text, with both labels present")
        self.vectorizer = TfidfVectorizer(ngram_range=self.ngram_range, lowercase=True)
        features = self.vectorizer.fit_transform(texts)
        self.classifier = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(features, labels)
        return self

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """0/1 per text."""
        if self.classifier is None:
            raise InputError("fit the judge before predicting")
        return self.classifier.predict(self.vectorizer.transform(_texts(texts, "texts"))).astype(int)

    def accuracy(self, texts: Sequence[str], labels: Sequence[int]) -> float:
        """Percentage (0..100) of texts the judge labels as given."""
        return 100.0 * float(np.mean(self.predict(texts) == np.asarray(labels)))


class FormalityJudge:
    """TF-IDF (word 1-2 grams + character 2-4 grams) + ridge regression on formality ratings.

    ``fit`` first fits on a seeded 80% of the data and records the Pearson r of its predictions
    on the other 20% (``heldout_r``, ``heldout_examples``), then refits on all of it.
    """

    def __init__(self, alpha: float = 1.0, heldout: float = 0.2, seed: int = 0):
        self.alpha, self.heldout, self.seed = alpha, heldout, seed
        self.model = None
        self.heldout_r: float | None = None
        self.heldout_examples = 0

    def _pipeline(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline, make_union

        features = make_union(TfidfVectorizer(ngram_range=(1, 2), lowercase=True, sublinear_tf=True),
                              TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True, sublinear_tf=True))
        return make_pipeline(features, Ridge(alpha=self.alpha))

    def fit(self, texts: Sequence[str], ratings: Sequence[float]) -> "FormalityJudge":
        texts, ratings = _texts(texts, "texts"), np.asarray(ratings, dtype=float)
        if len(texts) != len(ratings) or len(texts) < 10 or not np.isfinite(ratings).all():
            raise InputError("give one finite rating per text, at least 10 texts")
        order = np.random.default_rng(self.seed).permutation(len(texts))
        cut = int(round(len(texts) * (1.0 - self.heldout)))
        if 0 < cut < len(texts) - 1:
            train, test = order[:cut], order[cut:]
            model = self._pipeline().fit([texts[i] for i in train], ratings[train])
            predicted = model.predict([texts[i] for i in test])
            self.heldout_r = float(np.corrcoef(predicted, ratings[test])[0, 1])
            self.heldout_examples = len(test)
        self.model = self._pipeline().fit(texts, ratings)
        return self

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """A rating per text (higher = more formal)."""
        if self.model is None:
            raise InputError("fit the judge before predicting")
        return np.asarray(self.model.predict(_texts(texts, "texts")), dtype=float)


class FluencyJudge:
    """A word trigram language model with interpolated Kneser-Ney smoothing; it scores how fluent
    texts are as their perplexity (lower = more fluent). Texts are lower-cased and split on
    whitespace; words seen fewer than ``min_count`` times in training become ``<unk>``.

    Trained on the sentences a benchmark's judge learns from (e.g. the Yelp stand-in pool), it
    tells a fluent edit from one that a classifier accepts but no writer would produce
    ("i ca n't great how inconsiderate this pharmacy is great").

    >>> lm = FluencyJudge(min_count=1).fit(["the food was great .", "the food was cold .", "the staff was great ."])
    >>> lm.perplexity(["the food was great ."]) < lm.perplexity(["great the was food ."])
    True
    """

    UNKNOWN, START, END = "<unk>", "<s>", "</s>"

    def __init__(self, discount: float = 0.75, min_count: int = 2):
        if not 0.0 < discount < 1.0 or min_count < 1:
            raise InputError("discount must lie in (0, 1) and min_count be at least 1")
        self.discount, self.min_count = discount, min_count
        self.vocabulary: set[str] | None = None

    def _words(self, text: str) -> list[str]:
        words = [w if w in self.vocabulary else self.UNKNOWN for w in text.lower().split()]
        return [self.START, self.START, *words, self.END]

    def fit(self, texts: Sequence[str]) -> "FluencyJudge":
        from collections import Counter

        texts = _texts(texts, "texts")
        if not texts:
            raise InputError("give at least one text to train the language model on")
        counts = Counter(w for text in texts for w in text.lower().split())
        self.vocabulary = {w for w, n in counts.items() if n >= self.min_count}
        trigrams = Counter()
        for text in texts:
            words = self._words(text)
            trigrams.update(zip(words, words[1:], words[2:]))
        self.trigrams = trigrams
        self.context = Counter()  # c(u v .)
        self.context_types = Counter()  # N1+(u v .)
        self.bigram_continuation = Counter()  # N1+(. v w)
        for (u, v, w), n in trigrams.items():
            self.context[u, v] += n
            self.context_types[u, v] += 1
            self.bigram_continuation[v, w] += 1
        self.middle = Counter()  # N1+(. v .) = sum over w of N1+(. v w)
        self.middle_types = Counter()  # N1+(v .) among continuation bigrams
        self.unigram_continuation = Counter()  # N1+(. w)
        for (v, w), n in self.bigram_continuation.items():
            self.middle[v] += n
            self.middle_types[v] += 1
            self.unigram_continuation[w] += 1
        self.bigram_types = len(self.bigram_continuation)
        return self

    def probability(self, u: str, v: str, w: str) -> float:
        """P(w | u v): the next word w after the words u v (``START`` before a text's first words;
        words outside the vocabulary count as ``UNKNOWN``)."""
        d = self.discount
        p = self.unigram_continuation[w] / self.bigram_types
        p = max(p, 1.0 / (self.bigram_types + len(self.vocabulary) + 2))  # a word never seen after any other
        if self.middle[v]:
            p = (max(self.bigram_continuation[v, w] - d, 0.0) + d * self.middle_types[v] * p) / self.middle[v]
        if self.context[u, v]:
            p = (max(self.trigrams[u, v, w] - d, 0.0) + d * self.context_types[u, v] * p) / self.context[u, v]
        return p

    def log_likelihoods(self, texts: Sequence[str]) -> list[tuple[float, int]]:
        """Per text: (natural-log likelihood, number of predicted words including the end)."""
        if self.vocabulary is None:
            raise InputError("fit the language model before scoring")
        scores = []
        for text in _texts(texts, "texts"):
            words = self._words(text)
            total = sum(math.log(self.probability(*gram)) for gram in zip(words, words[1:], words[2:]))
            scores.append((total, len(words) - 2))
        return scores

    def unknown_rate(self, texts: Sequence[str]) -> float:
        """Percentage (0..100) of the texts' words outside the vocabulary: words the training text
        never used ``min_count`` times, e.g. broken words a decoder glued from pieces ("Vamitins
        areVavaminsitVVaron"), which the perplexity, scoring every such word as ``<unk>``, misses."""
        if self.vocabulary is None:
            raise InputError("fit the language model before scoring")
        words = [w for text in _texts(texts, "texts") for w in text.lower().split()]
        return 100.0 * sum(w not in self.vocabulary for w in words) / len(words) if words else 0.0

    def new_unknown_share(self, outputs: Sequence[str], sources: Sequence[str]) -> float:
        """Percentage (0..100) of outputs holding a word outside the vocabulary that their source
        does not hold: edits that wrote a broken or unheard-of word, counted per output (a
        source's own misspellings do not count). Sharper than :meth:`unknown_rate`, which averages
        over words: one glued word in each of 90% of the outputs is 90% here, a few % there."""
        if self.vocabulary is None:
            raise InputError("fit the language model before scoring")
        outputs, sources = _texts(outputs, "outputs"), _texts(sources, "sources")
        if len(outputs) != len(sources):
            raise InputError(f"{len(outputs)} outputs but {len(sources)} sources")
        broken = sum(bool(set(output.lower().split()) - self.vocabulary - set(source.lower().split()))
                     for output, source in zip(outputs, sources))
        return 100.0 * broken / len(outputs) if outputs else 0.0

    def perplexity(self, texts: Sequence[str]) -> float:
        """exp(-total log likelihood / total predicted words) over all texts."""
        scores = self.log_likelihoods(texts)
        if not scores:
            raise InputError("no texts to score")
        return math.exp(-sum(s for s, _ in scores) / sum(n for _, n in scores))


_VADER = None


def vader_available() -> bool:
    try:
        import vaderSentiment.vaderSentiment  # noqa: F401
    except ImportError:
        return False
    return True


def vader_accuracy(texts: Sequence[str], targets: Sequence[int]) -> float | None:
    """Percentage of texts whose VADER compound score has the target's sign (>= 0: positive = 1);
    None when vaderSentiment is not installed (see :data:`VADER_MISSING`)."""
    global _VADER
    texts, targets = _texts(texts, "texts"), np.asarray(targets)
    if len(texts) != len(targets):
        raise InputError(f"{len(texts)} texts but {len(targets)} targets")
    if _VADER is None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError:
            return None
        _VADER = SentimentIntensityAnalyzer()
    positive = np.array([_VADER.polarity_scores(t)["compound"] >= 0 for t in texts], dtype=int)
    return 100.0 * float(np.mean(positive == targets)) if len(texts) else 0.0


def unchanged(sources: Sequence[str], outputs: Sequence[str]) -> int:
    """How many outputs equal their source, up to whitespace."""
    return sum(" ".join(a.split()) == " ".join(b.split()) for a, b in zip(sources, outputs))


def fluency_scores(outputs: Sequence[str], fluency: FluencyJudge | None, sources: Sequence[str]) -> dict:
    """``perplexity``, ``unknown_words`` (% of words outside its vocabulary) and ``new_unknown``
    (% of outputs with an unknown word their source lacks) of the outputs under the ``fluency``
    language model; all None without one."""
    if fluency is None:
        return {"perplexity": None, "unknown_words": None, "new_unknown": None}
    return {"perplexity": fluency.perplexity(outputs), "unknown_words": fluency.unknown_rate(outputs),
            "new_unknown": fluency.new_unknown_share(outputs, sources)}


def transfer_scores(sources: Sequence[str], outputs: Sequence[str], targets: Sequence[int],
                    references: Sequence[Sequence[str]] | None, judge: SentimentJudge, tokenize: str = "13a",
                    fluency: FluencyJudge | None = None) -> dict:
    """The style-transfer figures of DESIGN.md section 5, in percent / BLEU 0..100.

    targets[i]: the class (0/1) outputs[i] should have; references[i]: the human rewrites of
    sources[i] (the first one gives ``ref1_bleu``, all of them ``ref4_bleu``), or None.
    ``gm`` = sqrt(judge_accuracy x ref4_bleu); with a ``fluency`` language model, also
    :func:`fluency_scores`.
    """
    sources, outputs = _texts(sources, "sources"), _texts(outputs, "outputs")
    targets = np.asarray(targets, dtype=int)
    if not (len(sources) == len(outputs) == len(targets)) or (references is not None and len(references) != len(outputs)):
        raise InputError("give one source, output, target (and reference list) per example")
    if not outputs:
        raise InputError("no outputs to score")
    accuracy = judge.accuracy(outputs, targets)
    scores = {"n": len(outputs), "judge_accuracy": accuracy, "vader_accuracy": vader_accuracy(outputs, targets),
              "self_bleu": bleu(outputs, sources, tokenize), "ref1_bleu": None, "ref4_bleu": None, "gm": None,
              "unchanged": unchanged(sources, outputs),
              **fluency_scores(outputs, fluency, sources)}
    if references is not None:
        refs = [[r] if isinstance(r, str) else list(r) for r in references]
        scores["ref1_bleu"] = bleu(outputs, [r[0] for r in refs], tokenize)
        scores["ref4_bleu"] = bleu(outputs, refs, tokenize)
        scores["gm"] = geometric_mean(accuracy, scores["ref4_bleu"])
    return scores


def formality_scores(sources: Sequence[str], outputs: Sequence[str], judge: FormalityJudge, tokenize: str = "13a",
                     fluency: FluencyJudge | None = None) -> dict:
    """Mean judge rating of sources and outputs, the gain, the share of outputs rated above their
    source, self-BLEU, the unchanged count, the length ratio (output words / source words, over
    all texts: an edit that appends words its source never said shows here, and BLEU's precision
    forgives such words in part) and, with a ``fluency`` language model, :func:`fluency_scores`."""
    sources, outputs = _texts(sources, "sources"), _texts(outputs, "outputs")
    if len(sources) != len(outputs) or not outputs:
        raise InputError("give one output per source (at least one)")
    before, after = judge.predict(sources), judge.predict(outputs)
    return {"n": len(outputs), "source_rating": float(before.mean()), "output_rating": float(after.mean()),
            "gain": float(after.mean() - before.mean()), "improved_share": 100.0 * float(np.mean(after > before)),
            "self_bleu": bleu(outputs, sources, tokenize), "unchanged": unchanged(sources, outputs),
            "length_ratio": sum(len(t.split()) for t in outputs) / max(1, sum(len(t.split()) for t in sources)),
            **fluency_scores(outputs, fluency, sources)}
