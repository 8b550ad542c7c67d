import json
import pathlib
import pickle

import pytest
import torch

import latentedit.model_folder as model_folder
from latentedit import ModelFolderError, Tokenizer, TransformerVAE
from latentedit.model_folder import atomic_file, load_model, read_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

IDS = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 2, 0, 0]])


def logits_of(model):
    model.eval()
    with torch.no_grad():
        return model(IDS, IDS != 0).logits


@pytest.fixture
def model(make_config):
    torch.manual_seed(0)
    model = TransformerVAE(make_config(vocab_size=300, regularizer="kl_mdr", pooling="attention"))
    model.tokenizer = Tokenizer.train(["the food was great .", "the service was slow ."] * 20, vocab_size=290)
    return model


@pytest.fixture
def saved(model, tmp_path):
    folder = tmp_path / "tiny"
    model.save_pretrained(folder)
    return folder


def leftovers(folder):
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("."))


def test_save_load_gives_identical_logits_and_tokenizer(model, saved):
    assert sorted(p.name for p in saved.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    loaded = TransformerVAE.from_pretrained(saved)
    assert not loaded.training
    assert loaded.config == model.config
    assert torch.equal(logits_of(loaded), logits_of(model))
    # the embedding table is stored once and still shared by encoder, decoder and output layer
    assert loaded.encoder.embed_tokens.weight is loaded.shared.weight
    assert loaded.decoder.embed_tokens.weight is loaded.shared.weight
    assert float(loaded.mdr.multiplier.detach()) == pytest.approx(float(model.mdr.multiplier.detach()))
    texts = ["the food was slow .", "unseen words 😀"]
    assert torch.equal(loaded.tokenizer.encode(texts, 16).ids, model.tokenizer.encode(texts, 16).ids)
    assert leftovers(saved) == []


def test_model_without_tokenizer_round_trips(model, tmp_path):
    model.tokenizer = None
    model.save_pretrained(tmp_path / "m")
    assert not (tmp_path / "m" / "tokenizer.json").exists()
    assert load_model(tmp_path / "m").tokenizer is None


def test_config_json_records_format_and_versions(saved):
    header = json.loads((saved / "config.json").read_text())
    assert header["format_version"] == model_folder.FORMAT_VERSION
    assert header["model"]["vocab_size"] == 300
    assert {"latentedit", "torch", "transformers"} <= set(header["versions"])


@pytest.mark.parametrize("keep", [0, 8, 100, 0.5, -1])
def test_truncated_weights_are_reported(saved, keep):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    weights.write_bytes(data[:cut])
    with pytest.raises(ModelFolderError, match="truncated or damaged") as caught:
        load_model(saved)
    assert "model.safetensors" in str(caught.value)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFolderError, match="does not exist"):
        load_model(tmp_path / "nope")


def test_file_instead_of_folder(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(ModelFolderError, match="is a file"):
        load_model(tmp_path / "model.safetensors")


def test_missing_config(saved):
    (saved / "config.json").unlink()
    with pytest.raises(ModelFolderError, match="no config.json"):
        load_model(saved)


@pytest.mark.parametrize("text", ["{not json", "\xff\xfe", ""])
def test_invalid_json_config(saved, text):
    (saved / "config.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ModelFolderError, match="not valid JSON"):
        load_model(saved)


@pytest.mark.parametrize("header", [[1, 2], {"format_version": 1}, "just a string"])
def test_config_without_model_section(saved, header):
    (saved / "config.json").write_text(json.dumps(header))
    with pytest.raises(ModelFolderError, match="no 'model' section"):
        load_model(saved)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_format_version(saved, version):
    header = json.loads((saved / "config.json").read_text())
    header["format_version"] = version
    (saved / "config.json").write_text(json.dumps(header))
    with pytest.raises(ModelFolderError, match="format_version") as caught:
        load_model(saved)
    assert repr(version) in str(caught.value) and "Upgrade" in str(caught.value)


@pytest.mark.parametrize("change, field", [({"d_model": -3}, "d_model"), ({"pooling": "max"}, "pooling"),
                                           ({"hidden": 3}, "hidden"), ({"dropout": None}, "dropout")])
def test_invalid_model_config(saved, change, field):
    header = json.loads((saved / "config.json").read_text())
    header["model"].update(change)
    (saved / "config.json").write_text(json.dumps(header))
    with pytest.raises(ModelFolderError, match="invalid model config") as caught:
        read_config(saved)
    assert field in str(caught.value)


def test_weights_of_another_model_are_refused(saved, make_config, tmp_path):
    TransformerVAE(make_config(vocab_size=300, d_ff=48)).save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "model.safetensors").replace(saved / "model.safetensors")
    with pytest.raises(ModelFolderError, match="different models"):
        load_model(saved)


def test_tokenizer_larger_than_the_model_is_refused(saved):
    big = Tokenizer.train([f"word{i} other{i}" for i in range(200)] * 2, vocab_size=400)
    assert big.vocab_size > 300
    big.save(saved / "tokenizer.json")
    with pytest.raises(ModelFolderError, match="tokens but the model only"):
        load_model(saved)


def test_damaged_tokenizer_is_reported(saved):
    (saved / "tokenizer.json").write_text("{")
    with pytest.raises(ModelFolderError, match="tokenizer"):
        load_model(saved)


class _TouchOnUnpickle:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_pickle_weights_are_refused_and_never_unpickled(saved, tmp_path):
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_TouchOnUnpickle(probe)))
    assert probe.exists()  # the payload really runs when unpickled

    marker = tmp_path / "pwned"
    (saved / "model.safetensors").unlink()
    (saved / "pytorch_model.bin").write_bytes(pickle.dumps({"state": _TouchOnUnpickle(marker)}))
    with pytest.raises(ModelFolderError) as caught:
        load_model(saved)
    message = str(caught.value)
    assert "pytorch_model.bin" in message and "pickle" in message and "safetensors" in message
    assert not marker.exists()


def test_saving_over_a_folder_keeps_extra_files_and_replaces_weights(model, saved, make_config):
    (saved / "heads" / "x").mkdir(parents=True)
    (saved / "heads" / "x" / "config.json").write_text('{"kind": "head"}')
    (saved / "README.md").write_text("card")
    torch.manual_seed(1)
    other = TransformerVAE(make_config(vocab_size=300, d_ff=48))
    other.save_pretrained(saved)
    assert (saved / "heads" / "x" / "config.json").read_text() == '{"kind": "head"}'
    assert (saved / "README.md").read_text() == "card"
    assert not (saved / "tokenizer.json").exists()  # belonged to the replaced model
    loaded = load_model(saved)
    assert loaded.config.d_ff == 48
    assert torch.equal(logits_of(loaded), logits_of(other))
    assert leftovers(saved) == []


def test_crash_during_save_keeps_the_previous_model(model, saved, make_config, monkeypatch):
    before = logits_of(load_model(saved))
    files_before = {p.name: p.read_bytes() for p in saved.iterdir()}

    def crash(state, path, metadata=None):
        pathlib.Path(path).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(model_folder, "save_file", crash)
    torch.manual_seed(2)
    with pytest.raises(RuntimeError, match="disk full"):
        TransformerVAE(make_config(vocab_size=300, d_ff=48)).save_pretrained(saved)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == files_before
    assert torch.equal(logits_of(load_model(saved)), before)
    assert leftovers(saved) == []


def test_crash_during_first_save_leaves_nothing(model, tmp_path, monkeypatch):
    monkeypatch.setattr(model_folder, "save_file", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        model.save_pretrained(tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_saving_over_a_file_is_refused(model, tmp_path):
    target = tmp_path / "model"
    target.write_text("keep me")
    with pytest.raises(ModelFolderError, match="over the file"):
        model.save_pretrained(target)
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_file_writes_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.json"
    with atomic_file(target) as stream:
        stream.write("first")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_text() == "first"
    with pytest.raises(KeyError):
        with atomic_file(target) as stream:
            stream.write("second, half written")
            raise KeyError("boom")
    assert target.read_text() == "first"
    with atomic_file(target, "wb") as stream:
        stream.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]  # no temp files left
