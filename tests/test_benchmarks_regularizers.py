"""benchmarks/regularizers.py and reconstruction.py end to end with a tiny base config on synthetic
Python lines and Yelp sentences (no ../shared needed): they train, evaluate, tabulate, and do not
train a finished run again."""

import json
from pathlib import Path

import pytest
from scripts import load_script, write_lines

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_CONFIG = """
[data]
vocab_size = 300
[model]
d_model = 32
d_ff = 64
num_heads = 2
d_kv = 16
encoder_layers = 1
decoder_layers = 1
max_length = 24
latent_tokens = 1
latent_dim = 8
pooling = "mean"
target_rate = 4.0
[training]
batch_size = 16
steps = 4
warmup_steps = 1
eval_every = 4
eval_examples = 10
checkpoint_every = 4
log_every = 2
"""


def _load(name: str = "regularizers"):
    return load_script("benchmarks", name, "bench")


@pytest.fixture
def setup(tmp_path):
    runs, data = tmp_path / "runs", tmp_path / "data"
    names = ["x", "y", "total", "count", "value"]
    python = [f"{a} = {b} + {i}" for a in names for b in names for i in range(3)]
    python += [f"return {a}({b})" for a in names for b in names] + [f"{a}.append({b})" for a in names for b in names]
    write_lines(runs / "python-corpus" / "train.txt", python[::2])
    write_lines(runs / "python-corpus" / "valid.txt", python[1::2])
    for label, words in ((0, ("awful", "cold", "rude")), (1, ("great", "lovely", "warm"))):
        texts = [f"the {n} was {w} ." for n in ("food", "staff", "room", "soup", "view") for w in words]
        write_lines(data / "yelp" / "shen2017_heldout" / f"sentiment.heldout.{label}", texts)
        write_lines(data / "yelp" / f"sentiment.dev.{label}", texts[::2])
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    out = tmp_path / "results" / "regularizers.json"
    return ["--config", str(config), "--runs", str(runs), "--data", str(data), "--eval-examples", "16",
            "--out", str(out), "--regularizers", "mmd", "kl_mdr"], runs, out


def test_study_trains_evaluates_and_tabulates(setup, capsys):
    argv, runs, out = setup
    assert _load().main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.strip().splitlines()[-1].startswith("regularizers_best=python:")
    summary = json.loads(out.read_text())
    assert [(r["corpus"], r["variant"]) for r in summary["runs"]] == [
        ("python", "mmd"), ("python", "kl_mdr"), ("yelp", "mmd"), ("yelp", "kl_mdr")]
    for run in summary["runs"]:
        report = run["report"]
        assert report["regularizer"] == run["variant"] and report["examples"] == 16
        assert (Path(run["run"]) / "eval" / "report.json").is_file()
    python_run = summary["runs"][0]["report"]
    assert python_run["interpolation"]["slerp"]["valid_share"] is not None  # kind "python"
    assert python_run["probe"]["labels"]  # statement kinds as probe labels
    assert set(summary["runs"][2]["report"]["probe"]["labels"]) == {"0", "1"}  # both sentiments sampled
    table = out.with_suffix(".md").read_text()
    assert table.count("\n| python |") == 2 and table.count("\n| yelp |") == 2
    assert out.with_suffix(".png").is_file()

    # A second call finds the finished runs: nothing is trained again (the weights stay as they were).
    weights = runs / "python-mmd" / "model" / "model.safetensors"
    report = runs / "python-mmd" / "eval" / "report.json"
    before, report_before = weights.stat().st_mtime_ns, report.stat().st_mtime_ns
    assert _load().main(argv + ["--corpora", "python", "--regularizers", "mmd", "--report-only"]) == 0
    assert _load().main(argv[:-2] + ["mmd", "--corpora", "python"]) == 0
    assert weights.stat().st_mtime_ns == before
    assert report.stat().st_mtime_ns == report_before  # nor evaluated again on the same texts
    assert _load().main(argv[:-2] + ["mmd", "--corpora", "python", "--eval-examples", "12"]) == 0
    assert report.stat().st_mtime_ns != report_before and json.loads(report.read_text())["examples"] == 12


def test_without_the_data_folder_only_python_runs(setup, tmp_path, capsys):
    argv, _, out = setup
    argv = [a if a != str(tmp_path / "data") else str(tmp_path / "missing") for a in argv]
    assert _load().main(argv + ["--regularizers", "none"]) == 0
    assert "skipping the Yelp runs" in capsys.readouterr().err
    assert [r["corpus"] for r in json.loads(out.read_text())["runs"]] == ["python"]


def test_reconstruction_study_shares_the_base_run(setup):
    argv, runs, out = setup
    argv = argv[:-3]  # without --regularizers
    assert _load().main(argv + ["--corpora", "yelp", "--regularizers", "mmd"]) == 0
    base = runs / "yelp-mmd" / "model" / "model.safetensors"
    before = base.stat().st_mtime_ns
    recon = out.with_name("reconstruction.json")
    assert _load("reconstruction").main(argv + ["--out", str(recon), "--variants", "mmd", "memory-only"]) == 0
    assert base.stat().st_mtime_ns == before  # the regulariser study's Yelp run, not trained again
    summary = json.loads(recon.read_text())
    assert [r["variant"] for r in summary["runs"]] == ["mmd", "memory-only"]
    assert summary["runs"][1]["changes"] == ["model.inject_embeddings=false"]
    saved = json.loads((runs / "yelp-memory-only" / "model" / "config.json").read_text())
    assert saved["model"]["inject_embeddings"] is False
