"""Property heads (heads.py): fitting on synthetic and real codes, validation, saving with the editor."""

import json

import pytest
import torch

import latentedit.heads as heads_module
from latentedit import InputError, LatentEditor, ModelFolderError
from latentedit.heads import _stratified_order, check_name, fit_head, load_head, save_head

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIM = 12
BAD_NAMES = ["../../x", "/abs", "", "a/b", "..", ".hidden", "-dash", "x" * 65, "a\\b", "name with space", None, 3]


def r2(truth, predicted):
    truth, predicted = torch.as_tensor(truth, dtype=torch.float32), torch.as_tensor(predicted, dtype=torch.float32)
    return float(1 - (truth - predicted).pow(2).sum() / (truth - truth.mean()).pow(2).sum())


def synthetic(seed=0, n=300):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(n, DIM, generator=g)
    weights = torch.randn(DIM, generator=g)
    fresh = torch.randn(200, DIM, generator=g)
    return codes, weights, fresh, g


# -- fitting on synthetic codes -----------------------------------------------------------------


def test_regression_head_recovers_a_linear_property():
    codes, w, fresh, g = synthetic()
    values = 2.0 * codes @ w + 7.0 + 0.05 * torch.randn(len(codes), generator=g)
    head = fit_head("linear", codes, values=values, seed=0)
    c = head.config
    assert (c.kind, c.metric_name, c.code_size, c.hidden) == ("regression", "r2", DIM, 0)
    assert c.metric_value > 0.9
    assert (c.train_examples, c.heldout_examples) == (240, 60)
    assert c.value_mean == pytest.approx(float(values.mean()), abs=1e-4)
    assert c.value_std == pytest.approx(float(values.std()), rel=1e-4)
    truth = 2.0 * fresh @ w + 7.0
    with torch.no_grad():
        predicted = head(fresh)
    assert predicted.shape == (200,)
    assert r2(truth, predicted) > 0.9  # predictions come back on the property's own scale
    assert head.predict(fresh[:3]) == pytest.approx(predicted[:3].tolist())
    assert all(isinstance(v, float) for v in head.predict(fresh[:3]))


def test_regression_metric_is_held_out_and_honest_for_an_unlearnable_property():
    g = torch.Generator().manual_seed(1)
    codes, noise = torch.randn(40, 20, generator=g), torch.randn(40, generator=g)  # noise unrelated to the codes
    head = fit_head("noise", codes, values=noise)
    with torch.no_grad():
        training_fit = r2(noise, head(codes))
    assert training_fit > 0.3  # 20 numbers per example let the head fit 40 examples of noise somewhat ...
    assert head.config.metric_value < 0.1  # ... but the reported metric is measured on examples it did not see


def test_classification_head_recovers_labels():
    codes, w, fresh, _ = synthetic(seed=2)
    labels = ["up" if v > 0 else "down" for v in (codes @ w).tolist()]
    head = fit_head("side", codes, labels=labels, seed=0)
    c = head.config
    assert (c.kind, c.metric_name, c.labels) == ("classification", "accuracy", ("down", "up"))
    assert c.metric_value > 0.9
    with torch.no_grad():
        assert head(fresh).shape == (200, 2)
    truth = ["up" if v > 0 else "down" for v in (fresh @ w).tolist()]
    predicted = head.predict(fresh)
    assert set(predicted) == {"down", "up"}
    assert sum(a == b for a, b in zip(predicted, truth)) / len(truth) > 0.9


def test_classification_with_three_integer_labels():
    codes, _, fresh, g = synthetic(seed=3)
    centres = torch.randn(3, DIM, generator=g) * 2
    label_of = lambda x: (x @ centres.T).argmax(1).tolist()  # noqa: E731 - three linear regions
    head = fit_head("region", codes, labels=label_of(codes))
    assert head.config.labels == ("0", "1", "2")  # labels are kept as strings
    assert head.config.metric_value > 0.85
    truth = [str(v) for v in label_of(fresh)]
    assert sum(a == b for a, b in zip(head.predict(fresh), truth)) / len(truth) > 0.85


def test_hidden_layer_learns_what_a_linear_head_cannot():
    g = torch.Generator().manual_seed(4)
    codes = torch.randn(200, 4, generator=g)
    labels = ["same" if a * b > 0 else "differ" for a, b in codes[:, :2].tolist()]  # XOR of two signs
    linear = fit_head("xor", codes, labels=labels)
    mlp = fit_head("xor", codes, labels=labels, hidden=32)
    assert mlp.config.hidden == 32
    assert linear.config.metric_value < 0.75
    assert mlp.config.metric_value > 0.85



def test_a_deep_minibatch_head_learns_a_product_and_saves_its_layers(tmp_path):
    g = torch.Generator().manual_seed(6)
    codes = torch.randn(600, 4, generator=g)
    values = codes[:, 0] * codes[:, 1]  # no linear head can fit a product
    deep = fit_head("xy", codes, values=values, hidden=64, layers=2, batch_size=32, epochs=40, seed=0)
    assert fit_head("xy", codes, values=values).config.metric_value < 0.1
    assert deep.config.metric_value > 0.8
    assert deep.config.layers == 2 and len([m for m in deep.net if isinstance(m, torch.nn.Linear)]) == 3
    save_head(deep, tmp_path / "xy")
    loaded = load_head(tmp_path / "xy", 4)
    assert loaded.config == deep.config and torch.equal(loaded(codes[:5]), deep(codes[:5]))


def test_a_one_layer_head_keeps_the_layout_of_heads_saved_before_layers_existed(tmp_path):
    head = fit_head("h", torch.randn(40, DIM), values=torch.randn(40).tolist(), hidden=8)
    assert list(head.state_dict()) == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    save_head(head, tmp_path / "h")
    config = json.loads((tmp_path / "h" / "config.json").read_text())
    del config["layers"]  # as written by an older latentedit
    (tmp_path / "h" / "config.json").write_text(json.dumps(config))
    assert load_head(tmp_path / "h", DIM).config.layers == 1


@pytest.mark.parametrize("option", [{"layers": 0}, {"layers": 9}, {"batch_size": -1}, {"epochs": 0}, {"layers": 1.5}])
def test_fit_head_refuses_bad_layers_batch_size_and_epochs(option):
    with pytest.raises(InputError):
        fit_head("h", torch.randn(20, DIM), values=torch.randn(20).tolist(), hidden=4, **option)

def test_fitting_is_deterministic_for_a_seed():
    codes, w, _, _ = synthetic(seed=5, n=80)
    a = fit_head("h", codes, values=codes @ w, seed=3)
    b = fit_head("h", codes, values=codes @ w, seed=3)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    assert a.config == b.config


# -- the held-out split -------------------------------------------------------------------------


def test_stratified_order_keeps_class_proportions_in_every_prefix():
    target = torch.tensor([0] * 40 + [1] * 10 + [2] * 30)[torch.randperm(80, generator=torch.Generator().manual_seed(0))]
    order = _stratified_order(target, torch.Generator().manual_seed(1))
    assert sorted(order.tolist()) == list(range(80))
    for k in range(1, 81):
        prefix = target[order[:k]]
        for label, share in ((0, 0.5), (1, 0.125), (2, 0.375)):
            assert abs(int((prefix == label).sum()) - share * k) <= 1, (k, label)


def test_fit_head_holds_out_a_stratified_split(monkeypatch):
    """A rare class (5 of 50) still gets its share (1 of 10) of the held-out texts."""
    orders = []

    def spy(target, generator):
        order = _stratified_order(target, generator)
        orders.append((target, order))
        return order

    monkeypatch.setattr(heads_module, "_stratified_order", spy)
    codes, _, _, _ = synthetic(seed=6, n=50)
    labels = ["rare" if i % 10 == 3 else "common" for i in range(50)]
    head = fit_head("rare", codes, labels=labels)
    assert head.config.heldout_examples == 10 and head.config.train_examples == 40
    (target, order), = orders
    held = target[order[:10]]
    rare = head.config.labels.index("rare")
    assert int((held == rare).sum()) == 1
    assert int((target[order[10:]] == rare).sum()) == 4


def test_every_class_is_in_both_parts_of_a_small_balanced_split():
    orders = set()
    for seed in range(20):
        order = _stratified_order(torch.tensor([0] * 10 + [1] * 10), torch.Generator().manual_seed(seed))
        held = order[:4]  # fit_head holds out round(20 * 0.2) = 4
        assert sorted(int(i >= 10) for i in held) == [0, 0, 1, 1]
        orders.add(tuple(order.tolist()))
    assert len(orders) > 10  # the split is still random within each class


# -- bad input ----------------------------------------------------------------------------------


def test_fit_head_refuses_bad_targets():
    codes, w, _, _ = synthetic(seed=8, n=40)
    values = (codes @ w).tolist()
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(InputError, match="finite"):
            fit_head("h", codes, values=values[:-1] + [bad])
    with pytest.raises(InputError, match="39 values for 40"):
        fit_head("h", codes, values=values[:-1])
    with pytest.raises(InputError, match="41 labels for 40"):
        fit_head("h", codes, labels=["a", "b"] * 20 + ["a"])
    with pytest.raises(InputError, match="two distinct labels"):
        fit_head("h", codes, labels=["a"] * 40)
    with pytest.raises(InputError, match="exactly one"):
        fit_head("h", codes, values=values, labels=["a", "b"] * 20)
    with pytest.raises(InputError, match="exactly one"):
        fit_head("h", codes)
    with pytest.raises(InputError, match="kind"):
        fit_head("h", codes, values=values, kind="classification")
    with pytest.raises(InputError, match="kind"):
        fit_head("h", codes, labels=["a", "b"] * 20, kind="regression")
    with pytest.raises(InputError, match="at least 4"):
        fit_head("h", codes[:3], values=values[:3])


@pytest.mark.parametrize("values", [[1.0, None, 2.0, 3.0, 4.0], ["1", "2", "x", "4", "5"]])
def test_fit_head_refuses_non_numeric_values_with_input_error(values):
    with pytest.raises(InputError):
        fit_head("h", torch.randn(5, 4), values=values)


def test_fit_head_refuses_a_heldout_fraction_that_leaves_nothing_to_train_on():
    codes = torch.randn(20, 4)
    with pytest.raises(InputError):
        fit_head("h", codes, values=codes[:, 0], heldout_fraction=1.0)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_head_names_are_refused(name):
    codes = torch.randn(20, 4)
    with pytest.raises(InputError):
        check_name(name)
    with pytest.raises(InputError):
        fit_head(name, codes, values=codes[:, 0])


@pytest.mark.parametrize("name", ["a", "sentiment", "formality-v2", "x.1", "A_b", "9" * 64])
def test_good_head_names_are_accepted(name):
    assert check_name(name) == name


def test_a_name_with_a_trailing_newline_is_refused():
    with pytest.raises(InputError):
        check_name("sentiment\n")


# -- on the editor's texts ----------------------------------------------------------------------


def test_editor_fits_a_classification_head_on_texts(review_editor, review_corpus):
    editor, corpus = review_editor, review_corpus
    report = editor.fit_head("mood", corpus.texts, labels=corpus.labels, description="pos or neg")
    assert report["head"] == "mood" and report["kind"] == "classification"
    assert report["accuracy"] >= 0.9
    assert report["train_examples"] + report["heldout_examples"] == len(corpus.texts)
    assert editor.heads["mood"].config.description == "pos or neg"
    scores = editor.score(corpus.texts, heads=["mood"])
    assert list(scores) == ["mood"]
    assert sum(a == b for a, b in zip(scores["mood"], corpus.labels)) >= 0.95 * len(corpus.texts)


def test_editor_fits_a_regression_head_on_texts(review_editor, review_corpus):
    editor, corpus = review_editor, review_corpus
    report = editor.fit_head("stars", corpus.texts, values=corpus.ratings)
    assert report["kind"] == "regression" and report["r2"] > 0.8
    assert r2(corpus.ratings, editor.score(corpus.texts)["stars"]) > 0.9
    # an unlearnable property (which noun) gives a poor held-out R2: the metric is not the training fit
    nouns = [float(len(text.split()[1])) for text in corpus.texts]
    assert editor.fit_head("noun_length", corpus.texts, values=nouns)["r2"] < report["r2"]


def test_score_one_text_or_a_list(review_editor, review_corpus):
    editor = review_editor
    one = editor.score("the food was great .")
    assert set(one) == {"sentiment", "rating"}
    assert one["sentiment"] == "pos" and isinstance(one["rating"], float) and one["rating"] > 3.5
    many = editor.score(["the food was great .", "the food was awful ."])
    assert many["sentiment"] == ["pos", "neg"]
    assert many["rating"][0] > many["rating"][1]
    with pytest.raises(InputError, match="rating"):  # unknown heads list the ones there are
        editor.score("the food was great .", heads=["nope"])
    with pytest.raises(InputError):
        editor.score("")


def test_editor_fit_head_refuses_bad_input(review_editor, review_corpus):
    editor, corpus = review_editor, review_corpus
    for name in ("../../x", "/abs", ""):
        with pytest.raises(InputError):
            editor.fit_head(name, corpus.texts, labels=corpus.labels)
    with pytest.raises(InputError):
        editor.fit_head("h", corpus.texts, values=corpus.ratings[:-1])
    with pytest.raises(InputError):
        editor.fit_head("h", corpus.texts, values=corpus.ratings[:-1] + [float("nan")])
    with pytest.raises(InputError):
        editor.fit_head("h", corpus.texts, labels=["pos"] * len(corpus.texts))
    with pytest.raises(InputError):
        editor.fit_head("h", [], labels=[])
    assert set(editor.heads) == {"sentiment", "rating"}


# -- saving with the editor ------------------------------------------------------------------------


def test_save_and_load_keep_heads_and_directions(review_editor, review_corpus, tmp_path):
    editor, corpus = review_editor, review_corpus
    editor.learn_direction("stars", texts=corpus.texts, values=corpus.ratings, head="rating", target="max")
    editor.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model" / "heads").iterdir()) == ["rating", "sentiment"]
    loaded = LatentEditor.load(tmp_path / "model")
    assert set(loaded.heads) == {"sentiment", "rating"}
    assert set(loaded.directions) == {"positive", "stars"}
    for name, head in editor.heads.items():
        assert loaded.heads[name].config == head.config
        for (key, a), (_, b) in zip(head.state_dict().items(), loaded.heads[name].state_dict().items()):
            assert torch.equal(a, b), (name, key)
    for name, direction in editor.directions.items():
        assert torch.equal(loaded.directions[name].vector, direction.vector)
        assert loaded.directions[name].describe() == direction.describe()
    assert loaded.score(corpus.texts) == editor.score(corpus.texts)
    sample = corpus.negative[::8]
    assert ([r.text for r in loaded.shift(sample, "positive", strength="auto")]
            == [r.text for r in editor.shift(sample, "positive", strength="auto")])


def test_saving_again_drops_removed_heads(review_editor, tmp_path):
    review_editor.save(tmp_path / "model")
    del review_editor.heads["rating"]
    review_editor.save(tmp_path / "model")
    assert set(LatentEditor.load(tmp_path / "model").heads) == {"sentiment"}


def test_save_head_and_load_head(review_editor, tmp_path):
    head = review_editor.heads["sentiment"]
    save_head(head, tmp_path / "sentiment")
    config = json.loads((tmp_path / "sentiment" / "config.json").read_text())
    assert config["labels"] == ["neg", "pos"] and config["kind"] == "classification"
    loaded = load_head(tmp_path / "sentiment", head.config.code_size)
    codes = torch.randn(5, head.config.code_size)
    assert loaded.predict(codes) == head.predict(codes)
    with pytest.raises(ModelFolderError):
        load_head(tmp_path / "sentiment", head.config.code_size + 1)
    with pytest.raises(ModelFolderError):
        load_head(tmp_path / "missing", head.config.code_size)


def test_a_saved_head_whose_name_is_a_path_does_not_load(review_editor, tmp_path):
    review_editor.save(tmp_path / "model")
    config_file = tmp_path / "model" / "heads" / "rating" / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "name": "../../x"}))
    with pytest.raises(ModelFolderError):
        LatentEditor.load(tmp_path / "model")


def test_a_bad_head_name_writes_nothing(review_editor, review_corpus, tmp_path):
    with pytest.raises(InputError):
        review_editor.fit_head("../../escaped", review_corpus.texts, labels=review_corpus.labels)
    review_editor.save(tmp_path / "inner" / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inner"]
    assert sorted(p.name for p in (tmp_path / "inner").iterdir()) == ["model"]


def test_head_names_cannot_escape_the_model_folder(review_editor, tmp_path):
    editor = LatentEditor(review_editor.model, heads={"../../escaped": review_editor.heads["rating"]}, quiet=True)
    (tmp_path / "inner").mkdir()
    try:
        with pytest.raises(InputError):
            editor.save(tmp_path / "inner" / "model")
    finally:
        assert not (tmp_path / "escaped").exists()
        assert not (tmp_path / "inner" / "escaped").exists()
