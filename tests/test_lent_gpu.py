"""trainers.lent_gpu: pack the corpus, train on time, send the run back in parts, rebuild it here."""

import gzip
from pathlib import Path

import pytest
from safetensors.torch import load_file
from test_trainer import REPO, tiny_config, write_toml

import trainers.lent_gpu as lent_gpu
from latentedit import ConfigError, TransformerVAE
from latentedit.data import SAMPLE_REVIEWS, read_texts
from trainers.config import TrainConfig


def tiny_corpus(folder: Path) -> Path:
    texts = read_texts(str(SAMPLE_REVIEWS), "text")
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("\n".join(texts[40:]) + "\n")
    (folder / "valid.txt").write_text("\n".join(texts[:40]) + "\n")
    return folder


def test_pack_gzips_the_corpus_and_the_lent_machine_gets_it_back(tmp_path):
    corpus = tiny_corpus(tmp_path / "corpus")
    packed = lent_gpu.pack(corpus, tmp_path / "carry")
    assert [p.name for p in packed] == ["train.txt.gz", "valid.txt.gz"]
    assert gzip.decompress(packed[0].read_bytes()) == (corpus / "train.txt").read_bytes()
    assert lent_gpu.pack(corpus, tmp_path / "again")[0].read_bytes() == packed[0].read_bytes()  # deterministic
    lent_gpu.unpack_corpus(tmp_path / "carry")
    assert (tmp_path / "carry" / "valid.txt").read_bytes() == (corpus / "valid.txt").read_bytes()
    with pytest.raises(ConfigError, match="default_corpus"):
        lent_gpu.pack(tmp_path / "nowhere", tmp_path / "carry")


def test_a_timed_run_comes_back_in_parts_and_rebuilds_bit_for_bit(tmp_path, monkeypatch, capsys, one_torch_thread):
    lent_gpu.pack(tiny_corpus(tmp_path / "corpus"), tmp_path / "carry")
    config = tiny_config(tmp_path / "run", data={"train": str(tmp_path / "carry" / "train.txt"), "column": None,
                                                 "valid": str(tmp_path / "carry" / "valid.txt")})
    toml = write_toml(tmp_path / "gpu.toml", config)
    monkeypatch.setattr(lent_gpu, "PART_BYTES", 100_000)  # the tiny model's weights (~150 KB) must split
    out = tmp_path / "out"
    assert lent_gpu.main(["train", "--minutes", "1e-9", "--config", str(toml), "--out", str(out)]) == 0
    returned = sorted(p.name for p in out.iterdir())
    assert "model.safetensors.part0" in returned and "model.safetensors" not in returned
    assert {"config.json", "tokenizer.json", "lexicon.txt", "metrics.jsonl", "curves.png"} <= set(returned)
    assert max(p.stat().st_size for p in out.iterdir()) <= 100_000
    assert "max_minutes (1e-09) reached: stopping at step 5" in capsys.readouterr().out  # on time, not at step 30

    model = lent_gpu.unpack(out, tmp_path / "here")
    trained = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    rebuilt = load_file(str(model / "model.safetensors"))
    assert trained.keys() == rebuilt.keys() and all((trained[k] == rebuilt[k]).all() for k in trained)
    assert (tmp_path / "here" / "metrics.jsonl").exists() and TransformerVAE.from_pretrained(model).tokenizer is not None

    (out / "model.safetensors.part0").unlink()  # a part lost on the way fails loudly
    with pytest.raises(ConfigError, match="model.safetensors.*one is missing"):
        lent_gpu.unpack(out, tmp_path / "broken")


def test_train_needs_somewhere_to_send_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OUT", raising=False)
    assert lent_gpu.main(["train", "--minutes", "1", "--out", ""]) == 2
    assert "$OUT" in capsys.readouterr().err


@pytest.mark.parametrize("config, model, carry", [("default_gpu", "default", "gpu-carry"),
                                                  ("python_lines_gpu", "python-lines", "gpu-carry-python")])
def test_the_gpu_configs_continue_the_shipped_models_on_packed_corpora(config, model, carry):
    gpu = TrainConfig.load(REPO / "trainers" / "configs" / f"{config}.toml")
    shipped = TransformerVAE.from_pretrained(REPO / "latentedit" / "models" / model).config
    assert shipped.replace(vocab_size=gpu.model.vocab_size, latent_noise=gpu.model.latent_noise) == gpu.model
    assert gpu.training.init_from == f"latentedit/models/{model}"
    assert [Path(gpu.data.train), Path(gpu.data.valid)] == [Path("runs", carry, name) for name in lent_gpu.CORPUS_FILES]
    assert gpu.training.max_minutes > 0 and gpu.training.mixed_precision == "bf16"


def test_pack_takes_any_corpus_folder(tmp_path, capsys):
    corpus = tiny_corpus(tmp_path / "corpus")
    assert lent_gpu.main(["pack", "--corpus", str(corpus), "--carry", str(tmp_path / "carry")]) == 0
    assert "train.txt.gz" in capsys.readouterr().out and (tmp_path / "carry" / "valid.txt.gz").exists()
    (corpus / "train_extra.txt").write_text("x = 1\ny = 2\n")  # another training file travels as train.txt
    assert lent_gpu.main(["pack", "--corpus", str(corpus), "--carry", str(tmp_path / "extra"), "--train-file",
                          "train_extra.txt"]) == 0
    assert gzip.decompress((tmp_path / "extra" / "train.txt.gz").read_bytes()) == b"x = 1\ny = 2\n"
