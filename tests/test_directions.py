"""Directions (directions.py) on synthetic codes, and LatentEditor.learn_direction on the tiny model."""

import json

import pytest
import torch
import torch.nn.functional as F

from latentedit import InputError, ModelFolderError
from latentedit.directions import Direction, learn_direction, load_direction, property_direction, save_direction

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIM = 16


def clusters(seed=0, n=150, gap=3.0, noise_scale=None):
    """Two Gaussian clusters whose means differ by a random vector of norm ``gap``."""
    g = torch.Generator().manual_seed(seed)
    true_shift = F.normalize(torch.randn(DIM, generator=g), dim=0) * gap
    scale = torch.ones(DIM) if noise_scale is None else noise_scale
    centre = torch.randn(DIM, generator=g)
    negative = centre + torch.randn(n, DIM, generator=g) * scale
    positive = centre + true_shift + torch.randn(n, DIM, generator=g) * scale
    return positive, negative, true_shift


def cosine(a, b):
    return float(F.cosine_similarity(a, b, dim=0))


# -- two sets of codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["mean", "probe"])
def test_direction_points_from_negative_to_positive_cluster(method):
    positive, negative, true_shift = clusters()
    direction = learn_direction("up", positive, negative, method)
    assert direction.vector.shape == (DIM,) and direction.method == method
    assert (direction.positive_examples, direction.negative_examples) == (150, 150)
    assert cosine(direction.vector, true_shift) > 0.95
    # strength 1 moves about as far as the clusters are apart (probe: the same progress along its normal)
    assert float(direction.vector.norm()) == pytest.approx(float(true_shift.norm()), rel=0.15)
    moved = negative + direction.vector
    assert float((moved.mean(0) - positive.mean(0)).norm()) < 0.4 * float(true_shift.norm())


def test_mean_direction_is_exactly_the_difference_of_means():
    positive, negative, _ = clusters(seed=1)
    direction = learn_direction("up", positive, negative, "mean")
    assert torch.allclose(direction.vector, positive.mean(0) - negative.mean(0))


def test_probe_direction_moves_as_far_along_its_normal_as_the_mean_shift():
    positive, negative, _ = clusters(seed=2)
    probe = learn_direction("up", positive, negative, "probe").vector
    unit = F.normalize(probe, dim=0)
    difference = positive.mean(0) - negative.mean(0)
    assert float(probe @ unit) == pytest.approx(float(difference @ unit), rel=1e-4)


def test_probe_ignores_a_noisy_axis_that_misleads_the_mean():
    """With a very noisy axis along which the clusters also differ a little by chance, the
    probe (which weighs axes by how well they separate the clusters) still finds the clean one."""
    g = torch.Generator().manual_seed(3)
    n = 400
    negative = torch.randn(n, 2, generator=g) * torch.tensor([0.3, 8.0])
    positive = torch.randn(n, 2, generator=g) * torch.tensor([0.3, 8.0]) + torch.tensor([1.0, 1.5])
    probe = learn_direction("up", positive, negative, "probe").vector
    mean = learn_direction("up", positive, negative, "mean").vector
    clean_axis = torch.tensor([1.0, 0.0])
    assert cosine(probe, clean_axis) > 0.95
    assert cosine(probe, clean_axis) > cosine(mean, clean_axis)


def test_paired_direction_ignores_content_only_one_set_has():
    """Each negative code has a positive partner 2 units along axis 0; the positive set also holds
    codes far away along axis 1 (content no negative shares). The mean difference is pulled
    toward that content; the paired direction (negative -> its nearest positive) is not."""
    g = torch.Generator().manual_seed(5)
    negative = torch.randn(100, DIM, generator=g) * 3.0  # far apart: each one's partner is its nearest positive
    style = torch.zeros(DIM).index_fill_(0, torch.tensor([0]), 2.0)
    elsewhere = torch.randn(100, DIM, generator=g) * 3.0 + torch.zeros(DIM).index_fill_(0, torch.tensor([1]), 40.0)
    positive = torch.cat([negative + style, elsewhere])
    paired = learn_direction("up", positive, negative, "paired")
    assert paired.method == "paired" and (paired.positive_examples, paired.negative_examples) == (200, 100)
    mean = learn_direction("up", positive, negative, "mean").vector
    assert cosine(paired.vector, style) > 0.9999 and cosine(mean, style) < 0.2
    assert float(paired.vector.norm()) == pytest.approx(float(mean.norm()))  # strengths mean the same


def test_grouped_direction_leaves_out_a_confound_the_sets_do_not_share_equally():
    """The style is 2 units along axis 0 in both groups; group b sits 10 units along axis 1 and
    holds most of the positive codes but few negative ones (formal texts: mostly news)."""
    g = torch.Generator().manual_seed(6)
    offset = torch.zeros(DIM).index_fill_(0, torch.tensor([1]), 10.0)
    style = torch.zeros(DIM).index_fill_(0, torch.tensor([0]), 2.0)
    noise = lambda n: 0.3 * torch.randn(n, DIM, generator=g)  # noqa: E731
    negative = torch.cat([noise(90), noise(10) + offset])
    positive = torch.cat([noise(20) + style, noise(80) + offset + style])
    groups = (["a"] * 20 + ["b"] * 80, ["a"] * 90 + ["b"] * 10)
    plain = learn_direction("up", positive, negative).vector
    grouped = learn_direction("up", positive, negative, groups=groups).vector
    assert cosine(plain, style) < 0.5 and cosine(grouped, style) > 0.98
    assert float(grouped.norm()) == pytest.approx(float(plain.norm()))  # strengths mean the same
    one_group = learn_direction("up", positive, negative, groups=(["a"] * 100, ["a"] * 100)).vector
    assert torch.allclose(one_group, plain)  # one group: the plain mean difference


def test_grouped_direction_refuses_bad_groups():
    positive, negative, _ = clusters(seed=2)
    n, m = len(positive), len(negative)
    with pytest.raises(InputError, match="method 'mean' only"):
        learn_direction("up", positive, negative, "probe", groups=(["a"] * n, ["a"] * m))
    with pytest.raises(InputError, match="one label per text"):
        learn_direction("up", positive, negative, groups=(["a"] * (n - 1), ["a"] * m))
    with pytest.raises(InputError, match="no group holds two"):
        learn_direction("up", positive, negative, groups=(["a"] * n, ["b"] * m))


@pytest.mark.parametrize("method", ["mean", "probe"])
def test_swapping_the_sets_reverses_the_direction(method):
    positive, negative, _ = clusters(seed=4)
    forward = learn_direction("a", positive, negative, method).vector
    backward = learn_direction("b", negative, positive, method).vector
    assert cosine(forward, backward) < -0.99
    assert torch.allclose(forward, -backward, atol=0.05 * float(forward.norm()))


def test_learn_direction_refuses_bad_input():
    positive, negative, _ = clusters()
    with pytest.raises(InputError, match="method"):
        learn_direction("x", positive, negative, "property")
    with pytest.raises(InputError, match="at least two"):
        learn_direction("x", positive[:1], negative)
    with pytest.raises(InputError, match="at least two"):
        learn_direction("x", positive, negative[:1])
    for name in ("../../x", "/abs", "", "a/b"):
        with pytest.raises(InputError):
            learn_direction(name, positive, negative)


# -- a numeric property ----------------------------------------------------------------------------


def linear_property(seed=0, n=500):
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 2.0, 8)  # anisotropic codes
    codes = torch.randn(n, 8, generator=g) * scale
    weights = torch.randn(8, generator=g)
    values = codes @ weights + 3.0 + 0.05 * torch.randn(n, generator=g)
    return codes, values, weights


def test_property_direction_moves_the_property_by_one_standard_deviation():
    codes, values, weights = linear_property()
    direction = property_direction("p", codes, values)
    assert direction.method == "property" and direction.positive_examples == 500
    change = (codes + direction.vector) @ weights - codes @ weights  # the true property, not the fit
    assert torch.allclose(change, torch.full_like(change, float(values.std())), rtol=0.05)
    twice = (codes + 2 * direction.vector) @ weights - codes @ weights
    assert float(twice.mean()) == pytest.approx(2 * float(values.std()), rel=0.05)
    assert cosine(direction.vector, weights) > 0.99


def test_property_direction_follows_the_sign_and_scale_of_the_property():
    codes, values, _ = linear_property(seed=1)
    up = property_direction("up", codes, values).vector
    down = property_direction("down", codes, -values).vector
    assert torch.allclose(up, -down, atol=1e-4)
    # scaling the property scales its std and its weights alike: the step in code space is the same
    assert torch.allclose(property_direction("big", codes, values * 10).vector, up, atol=1e-3)


def test_property_direction_refuses_bad_input():
    codes, values, _ = linear_property()
    bad = values.clone()
    bad[3] = float("nan")
    with pytest.raises(InputError):
        property_direction("p", codes, bad)
    with pytest.raises(InputError):
        property_direction("p", codes, values[:-1])
    with pytest.raises(InputError):
        property_direction("p", codes[:3], values[:3])
    with pytest.raises(InputError, match="does not vary"):
        property_direction("p", codes, torch.full((500,), 2.0))
    with pytest.raises(InputError):
        property_direction("../p", codes, values)


# -- saving ------------------------------------------------------------------------------------------


def test_save_and_load_a_direction(tmp_path):
    positive, negative, _ = clusters()
    direction = learn_direction("up", positive, negative, "probe", description="towards positive")
    direction.head, direction.target = "sentiment", "pos"
    save_direction(direction, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.json", "up.safetensors"]
    loaded = load_direction(tmp_path, "up", DIM)
    assert torch.equal(loaded.vector, direction.vector)
    assert loaded.describe() == direction.describe()
    assert (loaded.head, loaded.target, loaded.method) == ("sentiment", "pos", "probe")
    with pytest.raises(ModelFolderError):
        load_direction(tmp_path, "up", DIM + 1)
    with pytest.raises(ModelFolderError):
        load_direction(tmp_path, "missing", DIM)
    with pytest.raises(InputError):
        load_direction(tmp_path, "../up", DIM)
    meta = json.loads((tmp_path / "up.json").read_text())
    (tmp_path / "up.json").write_text(json.dumps({**meta, "unexpected": 1}))
    with pytest.raises(ModelFolderError):
        load_direction(tmp_path, "up", DIM)


def test_direction_names_cannot_escape_the_folder(tmp_path):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    try:
        with pytest.raises(InputError):
            save_direction(Direction("../../evil", torch.zeros(4), "mean"), inner)
    finally:
        assert sorted(p.name for p in tmp_path.rglob("evil*")) == []


# -- through the editor, on the tiny trained model --------------------------------------------------


def test_editor_direction_is_the_mean_code_difference_and_moves_negatives_to_positive(review_editor, review_corpus):
    editor, corpus = review_editor, review_corpus
    direction = editor.directions["positive"]
    expected = editor.encode(corpus.positive).mean(0) - editor.encode(corpus.negative).mean(0)
    assert torch.allclose(direction.vector, expected, atol=1e-5)
    assert (direction.head, direction.target, direction.method) == ("sentiment", "pos", "mean")
    negatives = editor.encode(corpus.negative)
    assert editor.heads["sentiment"].predict(negatives).count("pos") == 0
    shifted = editor.heads["sentiment"].predict(negatives + 1.5 * direction.vector)
    assert shifted.count("pos") >= 0.9 * len(shifted)


def test_editor_probe_direction_agrees_with_the_mean_direction(review_editor, review_corpus):
    probe = review_editor.learn_direction("probe", review_corpus.positive, review_corpus.negative, method="probe")
    assert cosine(probe.vector, review_editor.directions["positive"].vector) > 0.7
    assert set(d["name"] for d in review_editor.describe_directions()) == {"positive", "probe"}


def test_editor_property_direction_raises_the_property(review_editor, review_corpus):
    from sklearn.linear_model import Ridge

    editor, corpus = review_editor, review_corpus
    direction = editor.learn_direction("stars", texts=corpus.texts, values=corpus.ratings, head="rating", target="max")
    codes = editor.encode(corpus.texts)
    ridge = Ridge(alpha=1.0).fit(codes.numpy(), corpus.ratings)
    moved = ridge.predict((codes + direction.vector).numpy()) - ridge.predict(codes.numpy())
    std = float(torch.tensor(corpus.ratings).std())
    assert moved == pytest.approx([std] * len(codes), rel=1e-3)
    # the independently fitted rating head agrees that the property went up by about one std
    head = editor.heads["rating"]
    with torch.no_grad():
        change = float((head(codes + direction.vector) - head(codes)).mean())
    assert 0.5 * std < change < 2.0 * std


def test_editor_learn_direction_refuses_bad_input(review_editor, review_corpus):
    editor, corpus = review_editor, review_corpus
    with pytest.raises(InputError, match="positive_texts and negative_texts"):
        editor.learn_direction("x", corpus.positive)
    with pytest.raises(InputError, match="rating"):  # the error lists the heads there are
        editor.learn_direction("x", corpus.positive, corpus.negative, head="missing", target="pos")
    with pytest.raises(InputError):
        editor.learn_direction("../../x", corpus.positive, corpus.negative)
    with pytest.raises(InputError):
        editor.learn_direction("x", [], corpus.negative)
    with pytest.raises(InputError):
        editor.learn_direction("x", corpus.positive, ["the food was great .", ""])
    with pytest.raises(InputError, match="both positive_groups and negative_groups"):
        editor.learn_direction("x", corpus.positive, corpus.negative, positive_groups=["a"] * len(corpus.positive))
    assert set(editor.directions) == {"positive"}  # nothing half-learned was kept


def test_editor_grouped_direction_is_the_weighted_within_group_difference(review_editor, review_corpus):
    editor, corpus = review_editor, review_corpus
    median = sorted(len(t) for t in corpus.positive + corpus.negative)[len(corpus.positive)]
    pos_groups = ["short" if len(t) < median else "long" for t in corpus.positive]
    neg_groups = ["short" if len(t) < median else "long" for t in corpus.negative]
    assert min(pos_groups.count("short"), pos_groups.count("long"), neg_groups.count("short"), neg_groups.count("long")) >= 2
    direction = editor.learn_direction("within", corpus.positive, corpus.negative, positive_groups=pos_groups,
                                       negative_groups=neg_groups)
    pos, neg = editor.encode(corpus.positive), editor.encode(corpus.negative)
    expected = torch.zeros_like(direction.vector)
    for group in ("short", "long"):
        p = pos[[i for i, label in enumerate(pos_groups) if label == group]]
        n = neg[[i for i, label in enumerate(neg_groups) if label == group]]
        expected += len(n) * (p.mean(0) - n.mean(0))
    assert cosine(direction.vector, expected) > 0.9999
    assert float(direction.vector.norm()) == pytest.approx(float((pos.mean(0) - neg.mean(0)).norm()), rel=1e-5)


def test_a_direction_built_by_hand_has_the_documented_fields():
    direction = Direction("d", torch.ones(4), "mean")
    assert direction.describe() == {"name": "d", "method": "mean", "norm": 2.0, "positive_examples": 0,
                                    "negative_examples": 0, "description": "", "head": "", "target": ""}
