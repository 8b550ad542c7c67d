"""LatentEditor edits (shift, optimize, neighbors, interpolate) on a tiny trained Transformer-VAE.

The model (tests/conftest.py) memorises 64 reviews "the <noun> was <adjective> ." with a
"sentiment" head (pos/neg), a "rating" head (1..5 by adjective) and a "positive" direction.
"""

import copy
import json
import math

import pytest
import torch

from latentedit import InputError, LatentEditor
from latentedit import editor as editor_module
from latentedit.editor import word_similarity
from latentedit.results import EditResult
from latentedit.revert import revert_candidates
from latentedit.substitute import MIN_ALIGNMENT, SUBSTITUTION_ROUNDS
from latentedit.targets import parse_targets, total_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def negatives(review_corpus):
    return review_corpus.negative[::4]  # 8 negative reviews, one per noun


@pytest.fixture
def positives(review_corpus):
    return review_corpus.positive[::4]


def test_the_stored_review_model_reconstructs_every_review(review_editor, review_corpus):
    assert review_editor.reconstruct(review_corpus.texts) == review_corpus.texts


def test_the_script_that_trains_the_stored_model_still_trains_one(review_corpus):
    from review_model import train_review_model

    editor = LatentEditor(train_review_model(seed=3), quiet=True)
    assert editor.reconstruct(review_corpus.texts) == review_corpus.texts


ANCHOR = 1.5  # logit bonus of the anchored shifts: enough to keep "the <noun> was", not the adjective


def target_loss(editor, target, texts):
    """The target loss of texts as the editor measures it: on their (re-)encoded codes."""
    with torch.no_grad():
        return total_loss(parse_targets(target, editor.heads), editor.encode(texts))


def mean(values):
    return sum(values) / len(values)


# -- text <-> codes ------------------------------------------------------------------------------------


def test_the_tiny_model_reconstructs_its_training_texts(review_editor, review_corpus):
    editor = review_editor
    assert editor.reconstruct(review_corpus.texts) == review_corpus.texts
    assert editor.reconstruct("the food was great .") == "the food was great ."
    assert editor.encode("the food was great .").shape == (16,)
    assert editor.encode(review_corpus.texts[:3]).shape == (3, 16)


def test_bfloat16_precision_keeps_the_reconstructions_and_float32_codes(review_editor, review_corpus):
    editor = LatentEditor(copy.deepcopy(review_editor.model), heads=review_editor.heads,
                          directions=review_editor.directions, quiet=True)
    assert editor.to(precision="bfloat16") is editor and editor.model.shared.weight.dtype == torch.bfloat16
    assert editor.encode(review_corpus.texts).dtype == torch.float32  # heads and directions stay float32
    same = sum(a == b for a, b in zip(editor.reconstruct(review_corpus.texts), review_corpus.texts))
    assert same >= 0.9 * len(review_corpus.texts)
    assert editor.shift(review_corpus.negative[0], "positive", strength="auto").scores["sentiment"] == "pos"
    editor.to(precision=torch.float32)
    assert editor.model.shared.weight.dtype == torch.float32
    with pytest.raises(InputError, match="unknown precision 'float16'"):
        editor.to(precision="float16")


def test_decode_one_code_or_a_batch(review_editor, review_corpus):
    codes = review_editor.encode(review_corpus.texts[:3])
    assert review_editor.decode(codes[0]) == review_corpus.texts[0]
    assert review_editor.decode(codes) == review_corpus.texts[:3]
    with pytest.raises(InputError):
        review_editor.decode(torch.full((16,), float("nan")))
    with pytest.raises(InputError):
        review_editor.decode(torch.zeros(2, 2, 16))


@pytest.mark.parametrize("shape", [(15,), (32,), (2, 32), (3, 8)])
def test_decode_refuses_codes_of_the_wrong_size(review_editor, shape):
    with pytest.raises(InputError):
        review_editor.decode(torch.zeros(shape))


def test_interpolate_ends_at_the_two_texts(review_editor):
    a, b = "the food was great .", "the view was awful ."
    for method in ("slerp", "lerp"):
        points = review_editor.interpolate(a, b, steps=5, method=method)
        assert [p.t for p in points] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
        assert (points[0].text, points[-1].text) == (a, b)
        assert torch.allclose(points[0].latent, review_editor.encode(a), atol=1e-5)
        assert torch.allclose(points[-1].latent, review_editor.encode(b), atol=1e-5)
    lerp = review_editor.interpolate(a, b, steps=3, method="lerp")
    assert torch.allclose(lerp[1].latent, (review_editor.encode(a) + review_editor.encode(b)) / 2, atol=1e-5)
    with pytest.raises(InputError):
        review_editor.interpolate(a, b, steps=1)
    with pytest.raises(InputError):
        review_editor.interpolate(a, b, method="cubic")
    beamed = review_editor.interpolate(a, b, steps=5, num_beams=3)
    assert [p.text for p in beamed] == review_editor.decode(torch.stack([p.latent for p in beamed]), method="beam", num_beams=3)
    explicit = review_editor.interpolate(a, b, steps=5, method="lerp", num_beams=1)  # points: the loop's lerp path
    assert [p.text for p in explicit] == [p.text for p in points]
    with pytest.raises(InputError, match="num_beams"):
        review_editor.interpolate(a, b, num_beams=0)


def test_sample_and_neighbors_are_seeded(review_editor):
    editor = review_editor
    assert editor.sample(4, seed=1) == editor.sample(4, seed=1)
    assert len(editor.sample(3, temperature=0.5)) == 3
    near = editor.neighbors("the food was great .", n=3, radius=0.3, seed=2)
    assert [r.text for r in near] == [r.text for r in editor.neighbors("the food was great .", n=3, radius=0.3, seed=2)]
    assert len(near) == 3 and all(r.operation == "neighbor" for r in near)
    code = editor.encode("the food was great .")
    for r in near:
        assert float((r.latent - code).norm()) == pytest.approx(0.3 * float(code.norm()), rel=1e-4)
    still = editor.neighbors("the food was great .", n=2, radius=0.0)
    assert [r.text for r in still] == ["the food was great ."] * 2
    with pytest.raises(InputError):
        editor.neighbors("the food was great .", n=0)


# -- shift -------------------------------------------------------------------------------------------


def test_strength_zero_is_the_reconstruction(review_editor, review_corpus):
    texts = review_corpus.texts[::5]
    results = review_editor.shift(texts, "positive", strength=0)
    assert [r.text for r in results] == review_editor.reconstruct(texts)
    for r, code in zip(results, review_editor.encode(texts)):
        assert torch.equal(r.latent, code) and torch.equal(r.source_latent, code)
        assert r.strength == 0 and r.similarity == 1.0 and r.distance < 1e-4


def test_shift_adds_strength_times_the_vector(review_editor, negatives):
    vector = review_editor.directions["positive"].vector
    for r, code in zip(review_editor.shift(negatives, "positive", strength=0.7), review_editor.encode(negatives)):
        assert torch.allclose(r.latent, code + 0.7 * vector, atol=1e-6)
        assert r.operation == "shift" and r.strength == pytest.approx(0.7)
        assert r.text == review_editor.decode(code + 0.7 * vector)


def test_shift_keeping_the_norm_turns_each_code_toward_the_direction(review_editor, negatives):
    editor, codes = review_editor, review_editor.encode(negatives)
    vector = editor.directions["positive"].vector
    for r, code in zip(editor.shift(negatives, "positive", strength=3.0, keep_norm=True), codes):
        expected = (code + 3.0 * vector) * code.norm() / (code + 3.0 * vector).norm()
        assert torch.allclose(r.latent, expected, atol=1e-5) and r.latent.norm() == pytest.approx(float(code.norm()), rel=1e-5)
        assert r.text == editor.decode(expected)
    auto = editor.shift(negatives, "positive", strength="auto", max_strength=6.0, grid=4, keep_norm=True)
    for r, code in zip(auto, codes):
        assert r.strength in (1.5, 3.0, 4.5, 6.0) and r.latent.norm() == pytest.approx(float(code.norm()), rel=1e-5)
    with pytest.raises(InputError, match="keep_norm"):
        editor.shift(negatives, "positive", keep_norm="yes")


def test_shift_moves_along_the_head_and_negative_strength_moves_back(review_editor, negatives, positives):
    editor = review_editor
    up = editor.shift(negatives, "positive", strength=1.5)
    assert all(r.source_scores["sentiment"] == "neg" for r in up)
    assert sum(r.scores["sentiment"] == "pos" for r in up) >= 6
    assert mean([r.scores["rating"] for r in up]) > mean([r.source_scores["rating"] for r in up]) + 1.5
    down = editor.shift(positives, "positive", strength=-1.5)
    assert all(r.source_scores["sentiment"] == "pos" for r in down)
    assert sum(r.scores["sentiment"] == "neg" for r in down) >= 6
    assert mean([r.scores["rating"] for r in down]) < mean([r.source_scores["rating"] for r in down]) - 1.5
    # the result's scores are the heads' verdicts on the output text itself
    for r in up[:3] + down[:3]:
        again = editor.score(r.text)
        assert r.scores["sentiment"] == again["sentiment"]
        assert r.scores["rating"] == pytest.approx(again["rating"], abs=1e-3)


def test_a_string_gives_one_result_and_a_list_gives_a_list(review_editor, negatives):
    one = review_editor.shift(negatives[0], "positive", strength=1.0)
    assert isinstance(one, EditResult) and one.source_text == negatives[0]
    many = review_editor.shift(negatives[:3], "positive", strength=1.0)
    assert isinstance(many, list) and len(many) == 3 and all(isinstance(r, EditResult) for r in many)
    assert [r.source_text for r in many] == negatives[:3]
    assert many[0].text == one.text
    assert [r.text for r in review_editor.shift(tuple(negatives[:3]), "positive")] == [r.text for r in many]
    optimized = review_editor.optimize(negatives[0], {"sentiment": "pos"}, steps=10)
    assert isinstance(optimized, EditResult)
    assert isinstance(review_editor.optimize(negatives[:2], {"sentiment": "pos"}, steps=10), list)


def test_chained_shifts_start_from_the_first_result(review_editor, negatives):
    editor, text = review_editor, negatives[0]
    first = editor.shift(text, "positive", strength=0.5)
    second = first.shift("positive", strength=0.5)
    assert torch.equal(second.source_latent, first.latent)
    assert second.source_text == text
    assert torch.allclose(second.latent, editor.encode(text) + 1.0 * editor.directions["positive"].vector, atol=1e-6)
    assert second.text == editor.shift(text, "positive", strength=1.0).text
    assert second.source_scores["sentiment"] == editor.heads["sentiment"].predict(first.latent[None])[0]
    further = second.optimize({"rating": "max"}, steps=10)
    assert torch.equal(further.source_latent, second.latent) and further.operation == "optimize"
    auto = first.shift("positive", strength="auto")
    assert torch.equal(auto.source_latent, first.latent)


def test_a_detached_result_cannot_chain(review_editor, negatives):
    result = review_editor.shift(negatives[0], "positive")
    result.editor = None
    with pytest.raises(RuntimeError, match="not attached"):
        result.shift("positive")


# -- strength="auto" -----------------------------------------------------------------------------------


def check_auto(editor, results, direction, max_strength, grid, judge):
    """The chosen strength is the first of the grid whose text arrived, or max_strength when none did;
    ``judge(text, result)`` says independently whether a text has arrived (None: too close to call)."""
    expected_strengths = [max_strength * (g + 1) / grid for g in range(grid)]
    for r in results:
        assert [row["strength"] for row in r.trajectory] == pytest.approx(expected_strengths, abs=1e-4)
        arrived = [row["arrived"] for row in r.trajectory]
        for row in r.trajectory:
            verdict = judge(row["text"], r)
            assert verdict is None or row["arrived"] == verdict, row
        index = arrived.index(True) if any(arrived) else grid - 1
        assert r.strength == pytest.approx(expected_strengths[index], abs=1e-4)
        assert r.text == r.trajectory[index]["text"]
        assert torch.allclose(r.latent, r.source_latent + r.strength * editor.directions[direction].vector, atol=1e-5)


def test_auto_strength_picks_the_smallest_strength_that_arrives(review_editor, negatives):
    editor = review_editor
    judge = lambda text, _: editor.score(text)["sentiment"] == "pos"  # noqa: E731
    results = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8)
    check_auto(editor, results, "positive", 4.0, 8, judge)
    assert all(r.scores["sentiment"] == "pos" for r in results)
    assert all(r.strength < 4.0 for r in results)  # all arrived before the largest strength
    assert any(not r.trajectory[0]["arrived"] for r in results)  # and the smallest was not always enough


def test_auto_strength_falls_back_to_max_strength_when_nothing_arrives(review_editor, negatives):
    editor = review_editor
    judge = lambda text, _: editor.score(text)["sentiment"] == "pos"  # noqa: E731
    results = editor.shift(negatives, "positive", strength="auto", max_strength=0.05, grid=4)
    check_auto(editor, results, "positive", 0.05, 4, judge)
    assert all(r.strength == pytest.approx(0.05) and r.text == r.source_text for r in results)
    assert all(len(r.trajectory) == 4 and not any(row["arrived"] for row in r.trajectory) for r in results)


def test_auto_strength_never_counts_a_copy_of_the_source_as_arrived(review_editor, positives):
    """Texts the head already scores as the target still need an edit that changes them."""
    editor = review_editor
    assert all(editor.score(text)["sentiment"] == "pos" for text in positives[:4])
    results = editor.shift(positives[:4], "positive", strength="auto", max_strength=4.0, grid=8)
    for r in results:
        assert all(not row["arrived"] for row in r.trajectory if row["text"] == r.source_text)
        assert r.text != r.source_text or not any(row["arrived"] for row in r.trajectory)


def test_auto_strength_with_a_regression_head(review_editor, review_corpus, negatives):
    editor = review_editor
    editor.learn_direction("stars", texts=review_corpus.texts, values=review_corpus.ratings, head="rating",
                           target="max")
    results = editor.shift(negatives, "stars", strength="auto", max_strength=3.0, grid=6)

    def judge(text, result):  # arrived = the rating head predicts more than for the source
        gain = editor.score(text)["rating"] - result.source_scores["rating"]
        return None if abs(gain) < 1e-3 else gain > 0

    check_auto(editor, results, "stars", 3.0, 6, judge)
    assert any(r.strength < 3.0 for r in results)  # some arrived before the largest strength
    assert mean([r.scores["rating"] for r in results]) > mean([r.source_scores["rating"] for r in results])


def test_min_gain_asks_a_regression_head_for_a_larger_move(review_editor, review_corpus, negatives):
    editor = review_editor
    editor.learn_direction("stars", texts=review_corpus.texts, values=review_corpus.ratings, head="rating",
                           target="max")
    any_gain = editor.shift(negatives, "stars", strength="auto", max_strength=3.0, grid=6)
    gains = sorted(r.scores["rating"] - r.source_scores["rating"] for r in any_gain)
    min_gain = gains[len(gains) // 2]  # half of the texts arrived with less than this
    results = editor.shift(negatives, "stars", strength="auto", max_strength=3.0, grid=6, min_gain=min_gain)

    def judge(text, result):
        gain = editor.score(text)["rating"] - result.source_scores["rating"]
        return None if abs(gain - min_gain) < 1e-3 else gain > min_gain

    check_auto(editor, results, "stars", 3.0, 6, judge)
    assert sum(r.strength > a.strength for r, a in zip(results, any_gain)) > 0  # some texts had to go further
    assert all(r.strength >= a.strength for r, a in zip(results, any_gain))


def test_min_gain_needs_auto_strength_and_a_regression_head(review_editor, negatives):
    with pytest.raises(InputError, match="min_gain > 0 needs strength='auto'"):
        review_editor.shift(negatives, "positive", strength=2.0, min_gain=0.5)
    with pytest.raises(InputError, match="min_gain applies to directions judged by a regression head"):
        review_editor.shift(negatives, "positive", strength="auto", min_gain=0.5)
    with pytest.raises(InputError, match="min_gain"):
        review_editor.shift(negatives, "positive", strength="auto", min_gain=-1.0)


def test_substitute_swaps_words_until_the_head_accepts(review_editor, negatives):
    """Word swaps come first; a text no swap brings to the target is shifted by decoding as before."""
    editor = review_editor
    plain = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8)
    results = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8, substitute=2.0)
    swapped = [any(row.get("substitute") and row["arrived"] for row in r.trajectory) for r in results]
    print("\nswapped:", [r.text for r, s in zip(results, swapped) if s])
    assert sum(swapped) >= len(negatives) // 2
    for r, p, was_swapped in zip(results, plain, swapped):
        if not was_swapped:
            assert r.text == p.text and r.strength == p.strength
            continue
        source, words = r.source_text.split(), r.text.split()
        assert len(words) == len(source) and 1 <= sum(a != b for a, b in zip(words, source)) <= SUBSTITUTION_ROUNDS
        assert editor.score(r.text)["sentiment"] == "pos" and r.text != r.source_text
        assert r.strength == 2.0 and torch.allclose(r.latent, editor.encode(r.text), atol=1e-5)
        kept = [row["text"] for row in r.trajectory if row.get("substitute")]
        assert kept[-1] == r.text and len(kept) <= SUBSTITUTION_ROUNDS
        move = r.latent - r.source_latent  # along the shift, not sideways
        assert torch.nn.functional.cosine_similarity(move, editor.directions["positive"].vector, dim=0) >= MIN_ALIGNMENT
    again = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8, substitute=2.0)
    assert [r.text for r in again] == [r.text for r in results]


def test_swaps_that_move_the_code_sideways_do_not_arrive(review_editor, negatives, monkeypatch):
    editor = review_editor
    plain = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8)
    monkeypatch.setattr(editor_module, "MIN_ALIGNMENT", 1.01)  # no move is that well aligned
    results = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8, substitute=2.0)
    assert [r.text for r in results] == [r.text for r in plain]
    assert not any(row.get("substitute") and row["arrived"] for r in results for row in r.trajectory)


def test_min_confidence_asks_a_classification_head_for_a_likelier_target(review_editor, negatives):
    editor = review_editor
    head = editor.heads["sentiment"]
    probability = lambda text: float(head(editor.encode(text)[None]).detach().softmax(-1)[0, head.label_index("pos")])  # noqa: E731
    plain = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8, substitute=2.0)
    sure = editor.shift(negatives, "positive", strength="auto", max_strength=4.0, grid=8, substitute=2.0,
                        min_confidence=0.99)
    for r in sure:
        for row in r.trajectory:
            p = probability(row["text"])
            if abs(p - 0.99) > 1e-3 and row["text"] != r.source_text and not row.get("substitute"):
                assert row["arrived"] == (p >= 0.99), row
        if any(row["arrived"] for row in r.trajectory):
            assert probability(r.text) >= 0.99 - 1e-4
    assert mean([probability(r.text) for r in sure]) >= mean([probability(r.text) for r in plain])


def test_substitute_and_min_confidence_need_auto_strength_and_the_right_head(review_editor, review_corpus, negatives):
    editor = review_editor
    with pytest.raises(InputError, match="substitute != 0 needs strength='auto'"):
        editor.shift(negatives, "positive", strength=2.0, substitute=2.0)
    with pytest.raises(InputError, match="min_confidence > 0 needs strength='auto'"):
        editor.shift(negatives, "positive", strength=2.0, min_confidence=0.5)
    editor.learn_direction("stars", texts=review_corpus.texts, values=review_corpus.ratings, head="rating", target="max")
    with pytest.raises(InputError, match="min_confidence applies to directions judged by a classification head"):
        editor.shift(negatives, "stars", strength="auto", min_confidence=0.5)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(InputError, match="min_confidence"):
            editor.shift(negatives, "positive", strength="auto", min_confidence=bad)
    with pytest.raises(InputError, match="substitute"):
        editor.shift(negatives, "positive", strength="auto", substitute=float("inf"))


def test_shift_codes_moves_each_code_along_its_own_vector(review_editor, negatives):
    editor, codes = review_editor, review_editor.encode(negatives[:4])
    vector = editor.directions["positive"].vector
    vectors = torch.stack([vector, 2 * vector, torch.zeros_like(vector), -vector])  # (4, D)
    results = editor.shift_codes(codes, negatives[:4], "positive", strength=0.5, vectors=vectors)
    assert all(torch.allclose(r.latent, code + 0.5 * v, atol=1e-6) for r, code, v in zip(results, codes, vectors))
    assert results[2].text == editor.reconstruct(negatives[2])
    same = editor.shift_codes(codes, negatives[:4], "positive", strength="auto", vectors=vector.expand_as(codes))
    assert [r.text for r in same] == [r.text for r in editor.shift(negatives[:4], "positive", strength="auto")]
    auto = editor.shift_codes(codes, negatives[:4], "positive", strength="auto", max_strength=2.0, grid=4, vectors=vectors)
    for r, code, v in zip(auto, codes, vectors):
        assert torch.allclose(r.latent, code + r.strength * v, atol=1e-5)
    for bad in (vectors[:3], vectors.clone().fill_(float("nan")), vectors.tolist()):
        with pytest.raises(InputError, match="vectors"):
            editor.shift_codes(codes, negatives[:4], "positive", vectors=bad)


def test_auto_strength_needs_a_head(review_editor, review_corpus, negatives):
    editor = review_editor
    editor.learn_direction("headless", review_corpus.positive, review_corpus.negative)
    with pytest.raises(InputError, match="no head"):
        editor.shift(negatives[0], "headless", strength="auto")
    with pytest.raises(InputError):
        editor.shift(negatives[0], "positive", strength="auto", max_strength=float("nan"))


# -- optimize ------------------------------------------------------------------------------------------


def test_optimize_lowers_the_target_loss_and_moves_the_label(review_editor, negatives):
    editor, target = review_editor, {"sentiment": "pos"}
    results = editor.optimize(negatives, target, seed=0)
    assert len(results) == len(negatives) and all(r.operation == "optimize" for r in results)
    before = target_loss(editor, target, editor.reconstruct(negatives))
    after = target_loss(editor, target, [r.text for r in results])
    assert float(after.mean()) < 0.5 * float(before.mean())
    assert all(r.source_scores["sentiment"] == "neg" for r in results)
    assert sum(r.scores["sentiment"] == "pos" for r in results) >= 6
    for r, start_loss in zip(results, before):
        assert r.trajectory[0]["step"] == 0 and r.trajectory[0]["loss"] == pytest.approx(float(start_loss), abs=1e-3)


def test_optimize_returns_the_best_allowed_candidate(review_editor, negatives):
    for r in review_editor.optimize(negatives, {"rating": "max"}, candidates=4):
        rows = r.trajectory
        assert [row["step"] for row in rows] == [0, 1, 17, 34, 50]  # the start, then 4 steps evenly spread over 1..50
        allowed = [row for row in rows[1:] if row["allowed"]]
        assert len(allowed) == 4  # no constraints given
        lowest = min(row["loss"] for row in allowed)
        assert r.text in {row["text"] for row in allowed if row["loss"] <= lowest + 1e-4}


def test_optimize_select_closest_keeps_the_most_similar_accepted_candidate(review_editor, negatives):
    closest = review_editor.optimize(negatives, {"sentiment": "pos"}, select="closest", seed=0)
    lowest = review_editor.optimize(negatives, {"sentiment": "pos"}, seed=0)
    for r in closest:
        accepted = [row for row in r.trajectory if row["allowed"] and row["accepted"]]
        if accepted:
            best = max(row["similarity"] for row in accepted)
            assert r.text in {row["text"] for row in accepted if row["similarity"] >= best - 1e-4}
    assert sum(r.scores["sentiment"] == "pos" for r in closest) == sum(
        any(row["accepted"] for row in r.trajectory) for r in closest)
    assert mean([r.similarity for r in closest]) >= mean([r.similarity for r in lowest])
    with pytest.raises(InputError, match="select"):
        review_editor.optimize(negatives[0], {"sentiment": "pos"}, select="nearest")


def test_optimize_raises_a_regression_head(review_editor, negatives):
    results = review_editor.optimize(negatives, {"rating": "max"})
    assert mean([r.scores["rating"] for r in results]) > mean([r.source_scores["rating"] for r in results]) + 1.0
    goal = 4.0  # a number: the search aims at it rather than past it
    aimed = review_editor.optimize(negatives, {"rating": goal})
    gaps = [(abs(r.source_scores["rating"] - goal), abs(r.scores["rating"] - goal)) for r in aimed]
    assert mean([after for _, after in gaps]) < mean([before for before, _ in gaps]) - 0.3
    assert all(after <= before + 0.05 for before, after in gaps)  # the best candidate is never worse than no edit


def test_optimize_with_random_search_also_improves(review_editor, negatives):
    editor, target = review_editor, {"rating": "max"}
    results = [editor.optimize(text, target, method="random", seed=0) for text in negatives]
    before = target_loss(editor, target, editor.reconstruct(negatives))
    after = target_loss(editor, target, [r.text for r in results])
    assert float(after.mean()) < float(before.mean()) - 0.5
    assert mean([r.scores["rating"] for r in results]) > mean([r.source_scores["rating"] for r in results]) + 1.0


def test_optimize_a_list_with_random_search(review_editor, negatives):
    results = review_editor.optimize(negatives[:3], {"rating": "max"}, method="random", seed=0)
    assert len(results) == 3


@pytest.mark.parametrize("method", ["adam", "random"])
def test_the_same_seed_gives_the_same_results(review_editor, negatives, method):
    def run(seed):
        texts = negatives[:1] if method == "random" else negatives[:4]
        return review_editor.optimize(texts, {"sentiment": "pos"}, method=method, seed=seed)

    first, second = run(5), run(5)
    first = first if isinstance(first, list) else [first]
    second = second if isinstance(second, list) else [second]
    assert [r.text for r in first] == [r.text for r in second]
    assert [r.trajectory for r in first] == [r.trajectory for r in second]
    assert all(torch.equal(a.latent, b.latent) for a, b in zip(first, second))


def test_max_distance_is_respected(review_editor, negatives):
    editor, target = review_editor, {"sentiment": "pos"}
    free = editor.optimize(negatives, target)
    distances = sorted(r.distance for r in free)
    bound = (distances[len(distances) // 2 - 1] + distances[len(distances) // 2]) / 2  # between the middle two
    assert any(r.distance > bound for r in free)  # the bound really constrains this search
    bounded = editor.optimize(negatives, target, max_distance=bound)
    reconstructions = editor.reconstruct(negatives)
    for r, reconstruction in zip(bounded, reconstructions):
        assert r.distance <= bound or (r.text == reconstruction and not any(row["allowed"] for row in r.trajectory[1:]))
        for row in r.trajectory:
            if abs(row["distance"] - bound) > 1e-3:
                assert row["allowed"] == (row["distance"] < bound)
    assert any(r.text != reconstruction for r, reconstruction in zip(bounded, reconstructions))
    assert all(r.text == rec for r, rec in zip(editor.optimize(negatives, target, max_distance=0.0), reconstructions))


def test_min_similarity_is_respected(review_editor, negatives):
    editor = review_editor
    reconstructions = editor.reconstruct(negatives)
    results = editor.optimize(negatives, {"sentiment": "pos"}, min_similarity=0.9)  # one changed word of five is 0.8
    for r, reconstruction in zip(results, reconstructions):
        assert r.similarity >= 0.9 or r.text == reconstruction
    loose = editor.optimize(negatives, {"sentiment": "pos"}, min_similarity=0.75)
    assert all(r.similarity >= 0.75 for r in loose)
    assert sum(r.scores["sentiment"] == "pos" for r in loose) >= 6


def test_to_dict_is_json_serialisable(review_editor, negatives):
    editor = review_editor
    results = [editor.shift(negatives[0], "positive", strength=1.0),
               editor.shift(negatives[0], "positive", strength="auto"),
               editor.optimize(negatives[0], {"sentiment": "pos", "rating": "max"}, weights={"rating": 0.5}, steps=10),
               editor.neighbors(negatives[0], n=1)[0]]
    for r in results:
        data = json.loads(json.dumps(r.to_dict()))
        assert data["text"] == r.text and data["source_text"] == r.source_text and data["operation"] == r.operation
        assert data["scores"] == r.scores and data["source_scores"] == r.source_scores
        assert data["distance"] == pytest.approx(r.distance, abs=1e-4)
        assert set(data) == {"text", "source_text", "operation", "strength", "scores", "source_scores", "distance",
                             "similarity", "trajectory"}
    assert len(results[1].to_dict()["trajectory"]) == 8 and results[2].to_dict()["trajectory"][0]["step"] == 0


# -- errors --------------------------------------------------------------------------------------------


def test_unknown_heads_and_directions_list_the_available_ones(review_editor, negatives):
    editor = review_editor
    with pytest.raises(InputError, match=r"unknown direction 'nope'.*positive"):
        editor.shift(negatives[0], "nope")
    with pytest.raises(InputError, match=r"unknown head 'nope'.*rating.*sentiment"):
        editor.optimize(negatives[0], {"nope": "max"})
    with pytest.raises(InputError, match=r"'neg', 'pos'"):  # an unknown label lists the labels
        editor.optimize(negatives[0], {"sentiment": "great"})
    empty = LatentEditor(editor.model, quiet=True)
    with pytest.raises(InputError, match="none"):
        empty.shift(negatives[0], "positive")
    with pytest.raises(InputError, match="none"):
        empty.optimize(negatives[0], {"sentiment": "pos"})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_strengths_and_targets_are_refused(review_editor, negatives, bad):
    editor = review_editor
    with pytest.raises(InputError, match="strength"):
        editor.shift(negatives[0], "positive", strength=bad)
    with pytest.raises(InputError, match="finite"):
        editor.optimize(negatives[0], {"rating": bad})
    with pytest.raises(InputError):
        editor.optimize(negatives[0], {"rating": "max"}, weights={"rating": bad})
    with pytest.raises(InputError):
        editor.optimize(negatives[0], {"sentiment": "pos"}, max_distance=bad)
    with pytest.raises(InputError):
        editor.optimize(negatives[0], {"sentiment": "pos"}, lr=bad)


@pytest.mark.parametrize("strength", ["strong", None, True, [1.0]])
def test_strength_must_be_a_number_or_auto(review_editor, negatives, strength):
    with pytest.raises(InputError):
        review_editor.shift(negatives[0], "positive", strength=strength)


def test_bad_optimize_options_are_refused(review_editor, negatives):
    editor, text = review_editor, negatives[0]
    for options in (dict(method="sgd"), dict(steps=0), dict(steps=2.5), dict(candidates=0), dict(candidates=True),
                    dict(lr=0), dict(proximity=-1), dict(prior=-0.1), dict(max_distance=-1), dict(min_similarity=1.5)):
        with pytest.raises(InputError):
            editor.optimize(text, {"sentiment": "pos"}, **options)
    for target in ({}, None, "pos", {"rating": "highest"}, {"rating": True}):
        with pytest.raises(InputError):
            editor.optimize(text, target)


@pytest.mark.parametrize("texts", ["", "   ", [], ["the food was great .", ""], [None], 42])
def test_empty_or_non_text_input_is_refused(review_editor, texts):
    editor = review_editor
    with pytest.raises(InputError):
        editor.shift(texts, "positive")
    with pytest.raises(InputError):
        editor.optimize(texts, {"sentiment": "pos"})
    with pytest.raises(InputError):
        editor.encode(texts)
    with pytest.raises(InputError):
        editor.score(texts)


def test_no_result_is_lost_or_reordered_across_batches(review_editor, review_corpus):
    editor = LatentEditor(review_editor.model, heads=review_editor.heads, directions=review_editor.directions,
                          batch_size=3, quiet=True)
    texts = review_corpus.texts[::6]
    small = editor.shift(texts, "positive", strength=1.0)
    whole = review_editor.shift(texts, "positive", strength=1.0)
    assert [r.source_text for r in small] == texts
    assert [r.text for r in small] == [r.text for r in whole]
    assert math.isclose(sum(r.distance for r in small), sum(r.distance for r in whole), abs_tol=1e-3)


# -- source anchoring ------------------------------------------------------------------------------------


def test_anchored_shift_keeps_the_source_and_still_moves_it(review_editor, negatives):
    free = review_editor.shift(negatives, "positive", strength=2.0)  # far enough to change more than the adjective
    anchored = review_editor.shift(negatives, "positive", strength=2.0, anchor=ANCHOR)
    print("\nfree:", [r.text for r in free], "\nanchored:", [r.text for r in anchored])
    assert sum(r.scores["sentiment"] == "pos" for r in anchored) >= 6
    assert mean([r.similarity for r in anchored]) > mean([r.similarity for r in free])
    for r, code in zip(anchored, review_editor.encode(negatives)):  # the code moved as without anchoring
        assert torch.allclose(r.latent, code + 2.0 * review_editor.directions["positive"].vector, atol=1e-6)
    copies = review_editor.shift(negatives, "positive", strength=2.0, anchor=1e4)
    assert [r.text for r in copies] == negatives


def test_anchored_auto_shift_and_optimize_decode_anchored_candidates(review_editor, negatives):
    auto = review_editor.shift(negatives, "positive", strength="auto", max_strength=3, grid=4, anchor=1e4)
    for r in auto:  # anchored, every candidate copies its source: no arrival, so a second, unanchored pass
        anchored, free = r.trajectory[:4], r.trajectory[4:]
        assert all(step["anchor"] == 1e4 and step["text"] == r.source_text and not step["arrived"] for step in anchored)
        assert len(free) == 4 and all(step["anchor"] == 0 for step in free)
        arrived = [step["arrived"] for step in free]
        assert r.text == free[arrived.index(True) if any(arrived) else -1]["text"]
    free = review_editor.shift(negatives, "positive", strength="auto", max_strength=3, grid=4)
    assert [r.text for r in auto] == [r.text for r in free]
    edits = review_editor.optimize(negatives, {"sentiment": "pos"}, anchor=1e4)
    assert all(step["text"] == r.source_text for r in edits for step in r.trajectory)


def test_anchor_must_be_non_negative_and_match_the_codes(review_editor, negatives):
    with pytest.raises(InputError, match="anchor"):
        review_editor.shift(negatives, "positive", anchor=-1.0)
    with pytest.raises(InputError, match="anchor must hold one text per code"):
        review_editor.decode(review_editor.encode(negatives), anchor=negatives[:2], anchor_weight=2.0)


def test_a_draft_changes_only_the_speed_of_decoding(review_editor, negatives):
    codes = review_editor.encode(negatives)
    plain = review_editor.decode(codes)
    assert review_editor.decode(codes, draft=negatives) == plain
    assert review_editor.decode(codes, draft=plain) == plain
    assert review_editor.reconstruct(negatives) == plain
    assert review_editor.reconstruct(negatives[0]) == plain[0]
    with pytest.raises(InputError, match="draft must hold one text per code"):
        review_editor.decode(codes, draft=negatives[:2])


def token_count(editor, text: str) -> int:
    """Tokens of a text, </s> included."""
    return int(editor.tokenizer.encode([text], 64).mask.sum())


def test_length_anchor_ends_outputs_near_their_texts_lengths(review_editor, negatives):
    editor = review_editor
    codes = editor.encode(negatives) + 4.0 * editor.directions["positive"].vector  # far: some outputs run long
    short = ["good ."] * len(negatives)
    limit = token_count(editor, short[0]) + 1  # one token past its length, and </s>
    plain = editor.decode(codes)
    ended = editor.decode(codes, length_anchor=short, length_weight=1e4)
    assert any(token_count(editor, p) > limit for p in plain)
    assert all(token_count(editor, e) <= limit for e in ended)
    assert editor.decode(codes, method="beam", num_beams=2, length_anchor=short, length_weight=1e4) != \
        editor.decode(codes, method="beam", num_beams=2)
    with pytest.raises(InputError, match="length_weight needs length_anchor"):
        editor.decode(codes, length_weight=1.0)
    with pytest.raises(InputError, match="length_anchor must hold one text per code"):
        editor.decode(codes, length_anchor=short[:2], length_weight=1.0)
    with pytest.raises(InputError, match="length_weight"):
        editor.decode(codes, length_anchor=short, length_weight=-1.0)


def test_edit_length_prior_ends_edits_near_their_sources_lengths(review_editor, negatives):
    editor = review_editor
    fragments = [" ".join(text.split()[1:3]) for text in negatives]  # "food was": decoded edits run longer
    free = editor.shift(fragments, "positive", strength=4.0)
    editor.edit_length_prior = 1e4
    try:
        ended = editor.shift(fragments, "positive", strength=4.0)
    finally:
        editor.edit_length_prior = 0.0
    assert any(token_count(editor, f.text) > token_count(editor, f.source_text) + 1 for f in free)
    assert all(token_count(editor, e.text) <= token_count(editor, e.source_text) + 1 for e in ended)
    assert [e.latent.tolist() for e in ended] == [f.latent.tolist() for f in free]  # only the decoding changed


def test_revert_makes_arrived_edits_minimal(review_editor, negatives):
    """Overshooting (one strength, 8) changes more than the adjective; reverting puts some of it back."""
    editor = review_editor
    positive = lambda text: editor.score(text)["sentiment"] == "pos"  # noqa: E731
    plain = editor.shift(negatives, "positive", strength="auto", max_strength=8.0, grid=1)
    minimal = editor.shift(negatives, "positive", strength="auto", max_strength=8.0, grid=1, revert=True)
    print("\nplain:", [r.text for r in plain], "\nreverted:", [r.text for r in minimal])
    for p, r in zip(plain, minimal):
        reverts = [row["text"] for row in r.trajectory if row.get("revert")]
        assert r.trajectory[: len(p.trajectory)] == p.trajectory and r.strength == p.strength
        assert r.text == (reverts[-1] if reverts else p.text)
        if reverts:  # each revert still arrives, is closer to the source, and the result's code is its text's
            similarities = [word_similarity(r.source_text, text) for text in [p.text, *reverts]]
            assert similarities == sorted(set(similarities))
            assert all(positive(text) and text != r.source_text for text in reverts)
            assert torch.allclose(r.latent, editor.encode(r.text), atol=1e-5)
        elif p.trajectory[-1]["arrived"]:  # nothing left to revert: no single revert still arrives
            assert not any(positive(c) and c != r.source_text for c in revert_candidates(r.source_text, r.text))
    assert sum(r.text != p.text for p, r in zip(plain, minimal)) >= 2
    assert mean([r.similarity for r in minimal]) > mean([r.similarity for r in plain])



def test_select_closest_keeps_the_arrived_decode_most_similar_to_the_source(review_editor, negatives):
    editor = review_editor
    smallest = editor.shift(negatives, "positive", strength="auto", max_strength=8.0, grid=4)
    closest = editor.shift(negatives, "positive", strength="auto", max_strength=8.0, grid=4, select="closest")
    for s, c in zip(smallest, closest):
        assert c.trajectory[: len(s.trajectory)] == s.trajectory
        arrived = [row for row in s.trajectory if row["arrived"]]
        if not arrived:
            assert c.text == s.text and not any(row.get("closest") for row in c.trajectory)
            continue
        pick = c.trajectory[-1]
        assert pick["closest"] and pick["text"] == c.text and pick["strength"] == c.strength
        assert (c.text, c.strength) in [(row["text"], row["strength"]) for row in arrived]
        assert c.similarity == max(word_similarity(c.source_text, row["text"]) for row in arrived)
    assert mean([c.similarity for c in closest]) >= mean([s.similarity for s in smallest])


def test_select_closest_with_revert_is_at_least_as_close_as_reverting_the_smallest(review_editor, negatives):
    """Partial reverts of every arrived decode hold the chain of single reverts of the smallest one."""
    editor = review_editor
    positive = lambda text: editor.score(text)["sentiment"] == "pos"  # noqa: E731
    options = dict(strength="auto", max_strength=8.0, grid=4, revert=True)
    smallest = editor.shift(negatives, "positive", **options)
    closest = editor.shift(negatives, "positive", select="closest", **options)
    print("\nsmallest:", [r.text for r in smallest], "\nclosest:", [r.text for r in closest])
    for s, c in zip(smallest, closest):
        if any(row["arrived"] for row in s.trajectory):
            assert positive(c.text) and c.text != c.source_text
            assert c.similarity >= s.similarity
    assert mean([c.similarity for c in closest]) > mean([s.similarity for s in smallest])


def test_select_must_be_smallest_or_closest_and_closest_needs_auto_strength(review_editor, negatives):
    with pytest.raises(InputError, match="select"):
        review_editor.shift(negatives, "positive", strength="auto", select="nearest")
    with pytest.raises(InputError, match="select='closest' needs strength='auto'"):
        review_editor.shift(negatives, "positive", strength=2.0, select="closest")

def test_revert_needs_auto_strength_and_a_bool(review_editor, negatives):
    with pytest.raises(InputError, match="revert=True needs strength='auto'"):
        review_editor.shift(negatives, "positive", strength=2.0, revert=True)
    with pytest.raises(InputError, match="revert must be True or False"):
        review_editor.shift(negatives, "positive", strength="auto", revert="yes")


def test_optimize_can_revert_its_chosen_candidate(review_editor, negatives):
    editor = review_editor
    minimal = editor.optimize(negatives, {"rating": "max"}, lr=0.1, revert=True, max_distance=6.0)
    bounded = editor.optimize(negatives, {"rating": "max"}, lr=0.1, max_distance=6.0)
    for r, b in zip(minimal, bounded):
        reverts = [row for row in r.trajectory if row["step"] == "revert"]
        assert r.trajectory[: len(b.trajectory)] == b.trajectory
        assert r.text == (reverts[-1]["text"] if reverts else b.text)
        start = editor.score(r.source_text)["rating"]
        for row in reverts:  # each revert still rates higher than the source, within max_distance, closer to it
            assert row["accepted"] and row["scores"]["rating"] > start and row["distance"] <= 6.0
            assert row["scores"]["rating"] == pytest.approx(editor.score(row["text"])["rating"], abs=1e-3)
        similarities = [row["similarity"] for row in [b.trajectory[[x["text"] for x in b.trajectory].index(b.text)], *reverts]]
        assert similarities == sorted(set(similarities))
    assert sum(r.text != b.text for r, b in zip(minimal, bounded)) >= 2
    with pytest.raises(InputError, match="revert must be True or False"):
        editor.optimize(negatives, {"rating": "max"}, revert=1)
