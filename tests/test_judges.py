"""Known-answer tests for the benchmarks' judges and scores (no data folder needed)."""

import math

import numpy as np
import pytest

from latentedit import datasets, judges
from latentedit.errors import InputError
from latentedit.judges import (
    FluencyJudge,
    FormalityJudge,
    SentimentJudge,
    bleu,
    formality_scores,
    geometric_mean,
    tokenize_13a,
    transfer_scores,
    unchanged,
    vader_accuracy,
)

POSITIVE = ["the food was great", "great service and great food", "i love this place", "wonderful staff , great prices",
            "the best pizza in town", "i love the pasta", "wonderful and friendly", "the best brunch , love it"]
NEGATIVE = ["the food was awful", "terrible service and awful food", "i hate this place", "rude staff , terrible prices",
            "the worst pizza in town", "i hate the pasta", "awful and rude", "the worst brunch , hate it"]


@pytest.fixture(scope="module")
def judge():
    return SentimentJudge().fit(POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE))


def test_sentiment_judge_separates_a_separable_set(judge):
    assert judge.predict(POSITIVE).tolist() == [1] * len(POSITIVE)
    assert judge.predict(NEGATIVE).tolist() == [0] * len(NEGATIVE)
    assert judge.predict(["great great love", "awful terrible hate"]).tolist() == [1, 0]
    assert judge.accuracy(POSITIVE + NEGATIVE, [1] * 8 + [0] * 8) == 100.0


def test_sentiment_judge_is_deterministic(judge):
    again = SentimentJudge().fit(POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE))
    probe = ["the staff was great but the food was awful", "pizza", "i love to hate it"]
    assert np.array_equal(judge.classifier.predict_proba(judge.vectorizer.transform(probe)),
                          again.classifier.predict_proba(again.vectorizer.transform(probe)))


def test_judges_refuse_bad_input():
    with pytest.raises(InputError):
        SentimentJudge().fit(["a", "b"], [1, 1])  # one class only
    with pytest.raises(InputError):
        SentimentJudge().predict(["not fitted"])
    with pytest.raises(InputError):
        FormalityJudge().fit(["a"] * 3, [0.0] * 3)


def test_transfer_scores_of_copying_the_input(judge):
    sources = NEGATIVE[:4] + POSITIVE[:4]
    targets = [1] * 4 + [0] * 4
    refs = [[s.replace("awful", "great"), s] for s in sources]
    scores = transfer_scores(sources, list(sources), targets, refs, judge)
    assert scores["n"] == 8 and scores["unchanged"] == 8
    assert scores["self_bleu"] == pytest.approx(100.0)
    assert scores["judge_accuracy"] == 0.0  # the judge keeps every source in its own class
    assert scores["ref4_bleu"] == pytest.approx(100.0)  # each source is one of its references
    assert scores["gm"] == 0.0


def test_transfer_scores_when_outputs_are_the_references(judge):
    sources = NEGATIVE[:4] + POSITIVE[:4]
    outputs = POSITIVE[:4] + NEGATIVE[:4]
    targets = [1] * 4 + [0] * 4
    scores = transfer_scores(sources, outputs, targets, [[o, "something else entirely"] for o in outputs], judge)
    assert scores["judge_accuracy"] == 100.0
    assert scores["ref1_bleu"] == pytest.approx(100.0) and scores["ref4_bleu"] == pytest.approx(100.0)
    assert scores["gm"] == pytest.approx(100.0)
    assert scores["unchanged"] == 0
    assert scores["self_bleu"] < 50.0


def test_geometric_mean_formula():
    assert geometric_mean(3.6, 64.2) == pytest.approx(math.sqrt(3.6 * 64.2))
    assert round(geometric_mean(80.7, 60.7), 1) == 70.0  # CWSR in DESIGN.md section 5
    assert geometric_mean(0.0, 50.0) == 0.0


def test_transfer_scores_without_references(judge):
    scores = transfer_scores(["the food was awful"], ["the food was great"], [1], None, judge)
    assert scores["ref4_bleu"] is None and scores["gm"] is None and scores["judge_accuracy"] == 100.0


def test_transfer_scores_checks_lengths(judge):
    with pytest.raises(InputError):
        transfer_scores(["a b"], ["a b", "c d"], [1], None, judge)


def test_13a_tokenizer_matches_mteval():
    assert tokenize_13a("it's great, really!") == "it's great , really !"
    assert tokenize_13a("it 's 3.5 stars , 1-2 of them (i'd say).") == "it 's 3.5 stars , 1 - 2 of them ( i'd say ) ."
    assert tokenize_13a("a &amp; b <unk>") == "a & b < unk >"
    # whitespace BLEU sees `good.` and `good .` as different; 13a does not
    assert bleu(["it was really good."], ["it was really good ."]) == pytest.approx(100.0)
    assert bleu(["it was really good."], ["it was really good ."], tokenize="none") < 100.0


def test_unchanged_ignores_whitespace():
    assert unchanged(["a  b", "c d", "e"], ["a b ", "c e", "e"]) == 2


def test_vader_accuracy_or_a_clear_none():
    result = vader_accuracy(["this is great and wonderful", "this is terrible and awful"], [1, 0])
    if judges.vader_available():
        assert result == 100.0
    else:
        assert result is None and "not installed" in judges.VADER_MISSING


def test_formality_judge_learns_a_rating_and_reports_heldout_r():
    rng = np.random.default_rng(0)
    formal = ["I would be grateful for your assistance", "Please find the report attached", "We regret to inform you",
              "Kindly confirm receipt of this letter", "The committee will convene on Monday"]
    casual = ["lol thats so cool", "gonna grab food u want some", "omg no way haha", "yeah whatever dude",
              "wanna hang out later lol"]
    texts, ratings = [], []
    for _ in range(8):
        for f, c in zip(formal, casual):
            texts += [f, c]
            ratings += [2.0 + rng.normal(0, 0.1), -2.0 + rng.normal(0, 0.1)]
    judge = FormalityJudge().fit(texts, ratings)
    assert judge.heldout_examples == 16 and judge.heldout_r > 0.9
    assert judge.predict(["Please confirm the meeting"])[0] > judge.predict(["lol wanna hang"])[0]
    scores = formality_scores(casual, formal, judge)
    assert scores["gain"] > 2.0 and scores["improved_share"] == 100.0 and scores["unchanged"] == 0
    same = formality_scores(casual, casual, judge)
    assert same["gain"] == 0.0 and same["self_bleu"] == pytest.approx(100.0) and same["unchanged"] == len(casual)
    assert same["length_ratio"] == 1.0
    doubled = formality_scores(casual, [f"{text} {text}" for text in casual], judge)
    assert doubled["length_ratio"] == 2.0


def test_formality_reader_skips_unrated_rows(tmp_path):
    folder = tmp_path / "formality"
    folder.mkdir()
    (folder / "pavlick2016_formality_all.tsv").write_text(
        "genre\tmean_score\tannotator_scores\tsentence_id\tsentence\n"
        "answers\t-1.4\t-3.0,-1.0,1.0,-3.0,-1.0\tid1\tlol ok\n"
        "answers\t0\t\tid2\t( Chapter 4 )\n"
        "news\t1.2\t1.0,1.4\tid3\tThe  senate voted .\n", encoding="utf-8")
    rows = datasets.formality(tmp_path)
    assert [(r.text, r.score) for r in rows] == [("lol ok", -1.4), ("The senate voted .", 1.2)]


REVIEWS = ["the food was great .", "the food was cold .", "the staff was great .", "the staff was rude .",
           "i loved the food .", "i hated the staff .", "the pasta was great and the staff was friendly ."]


def test_fluency_judge_probabilities_sum_to_one_in_every_context():
    lm = FluencyJudge().fit(REVIEWS)  # words seen once (cold, rude, pasta, ...) become <unk>
    words = sorted(lm.vocabulary | {lm.UNKNOWN, lm.END})
    for context in [(lm.START, lm.START), (lm.START, "the"), ("the", "food"), ("was", "great"), ("great", "great"),
                    (lm.UNKNOWN, "was")]:
        assert sum(lm.probability(*context, w) for w in words) == pytest.approx(1.0)


def test_fluency_judge_prefers_word_order_it_has_seen():
    lm = FluencyJudge(min_count=1).fit(REVIEWS)
    assert lm.perplexity(["the food was great ."]) < lm.perplexity(["the food great was ."])
    assert lm.perplexity(["the staff was great ."]) < lm.perplexity(["the staff was great great"])
    assert lm.perplexity(["The  Food was great ."]) == lm.perplexity(["the food was great ."])  # lower-cased, split on spaces
    (total, words), = lm.log_likelihoods(["the food was great ."])
    assert words == 6 and lm.perplexity(["the food was great ."]) == pytest.approx(math.exp(-total / words))


def test_fluency_judge_refuses_bad_input():
    with pytest.raises(InputError):
        FluencyJudge(discount=1.0)
    with pytest.raises(InputError):
        FluencyJudge().fit([])
    with pytest.raises(InputError):
        FluencyJudge().perplexity(["not fitted"])
    with pytest.raises(InputError):
        FluencyJudge(min_count=1).fit(REVIEWS).perplexity([])


def test_fluency_judge_counts_unknown_words():
    lm = FluencyJudge().fit(REVIEWS)  # seen twice or more: the, food, was, great, ., staff, i
    assert lm.unknown_rate(["the food was great ."]) == 0.0
    assert lm.unknown_rate(["the fooood was greatider ."]) == pytest.approx(40.0)
    assert lm.unknown_rate(["the food", "cold pasta"]) == pytest.approx(50.0) and lm.unknown_rate([""]) == 0.0
    # per output: an unknown word counts only where the source lacks it
    sources = ["the fooood was cold .", "the food was cold .", "the food was cold ."]
    assert lm.new_unknown_share(["the fooood was great .", "the food was great .", "the greatider ."], sources) \
        == pytest.approx(100 / 3)
    with pytest.raises(InputError, match="2 outputs but 3 sources"):
        lm.new_unknown_share(["a", "b"], sources)


def test_transfer_and_formality_scores_report_fluency_with_a_language_model(judge):
    lm = FluencyJudge(min_count=1).fit(POSITIVE + NEGATIVE)
    scores = transfer_scores(NEGATIVE, POSITIVE, [1] * 8, None, judge, fluency=lm)
    assert scores["perplexity"] == pytest.approx(lm.perplexity(POSITIVE)) and scores["unknown_words"] == 0.0
    assert transfer_scores(NEGATIVE, POSITIVE, [1] * 8, None, judge)["perplexity"] is None
    rater = FormalityJudge().fit(POSITIVE + NEGATIVE, [float(i % 3) for i in range(16)])
    scores = formality_scores(NEGATIVE, ["zzz qqq"] * 8, rater, fluency=lm)
    assert scores["unknown_words"] == 100.0 and scores["new_unknown"] == 100.0 and scores["perplexity"] > lm.perplexity(NEGATIVE)
    assert formality_scores(NEGATIVE, NEGATIVE, rater, fluency=lm)["new_unknown"] == 0.0
    assert formality_scores(NEGATIVE, NEGATIVE, rater)["unknown_words"] is None
