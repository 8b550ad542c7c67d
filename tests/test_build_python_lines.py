"""trainers/build_python_lines.py on a tiny untrained model and a tiny corpus: the folder loads, the
card holds the test-split metrics, the report and plots are written."""

import json

import pytest

from latentedit import LatentEditor, Tokenizer, TransformerVAE
from latentedit.lexicon import Lexicon
from trainers import build_python_lines

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_build_writes_a_loadable_model_with_its_card(tmp_path, make_config):
    names = ["x", "y", "total", "count"]
    lines = [f"{a} = {b} + {i}" for a in names for b in names for i in range(3)] + [f"return {a}" for a in names]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "test.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (corpus / "python_lines.json").write_text(json.dumps({"counts": {"test": len(lines)}}), encoding="utf-8")
    model = TransformerVAE(make_config(vocab_size=300, max_length=16))
    model.tokenizer = Tokenizer.train(lines, vocab_size=300, min_frequency=1)
    LatentEditor(model, quiet=True, lexicon=Lexicon.from_texts(lines)).save(tmp_path / "trained")  # as trainers/ save

    out, reports = tmp_path / "python-lines", tmp_path / "reports"
    assert build_python_lines.main(["--model", str(tmp_path / "trained"), "--corpus", str(corpus), "--out", str(out),
                                    "--report-dir", str(reports), "--pairs", "4", "--refine", "2"]) == 0
    editor = LatentEditor.load(out)
    assert editor.model.config.max_length == 16 and editor.lexicon is None  # code's words hold no edit back
    card = (out / "MODEL_CARD.md").read_text()
    assert f"| test lines | {len(lines)} |" in card and "slerp: inner points that parse" in card
    assert "| greedy exact match, codes refined 2 steps |" in card and "build_python_lines --refine 2" in card
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["interpolation"]["pairs"] == 4 and metrics["corpus"]["counts"]["test"] == len(lines)
    refined = metrics["test"]["refined"]
    assert refined["reconstruction"]["refine"] == 2 and refined["interpolation"]["slerp"]["pairs"] == 4
    assert metrics["train_minutes"] is None and "about ? minutes of training" in card  # no run folder beside it
    assert {"report.json", "codes.png", "interpolation.png"} <= {p.name for p in reports.iterdir()}


def test_training_minutes_add_the_earlier_stages_given_in_minutes(tmp_path, make_config):
    """A run folder (tokenizer.json written as training starts, model/ at its end) counts its own
    minutes; --earlier-minutes adds those of stages whose run folders are gone."""
    import os

    lines = [f"x = {i} + y" for i in range(12)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "test.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    model = TransformerVAE(make_config(vocab_size=300, max_length=16))
    model.tokenizer = Tokenizer.train(lines, vocab_size=300, min_frequency=1)
    run = tmp_path / "run"
    LatentEditor(model, quiet=True).save(run / "model")
    model.tokenizer.save(run / "tokenizer.json")
    os.utime(run / "tokenizer.json", (1_000_000, 1_000_000))
    os.utime(run / "model" / "model.safetensors", (1_000_000 + 180, 1_000_000 + 180))  # a 3-minute run
    out = tmp_path / "python-lines"
    assert build_python_lines.main(["--model", str(run / "model"), "--corpus", str(corpus), "--out", str(out),
                                    "--report-dir", str(tmp_path / "reports"), "--pairs", "2", "--earlier-minutes", "236"]) == 0
    assert json.loads((out / "metrics.json").read_text())["train_minutes"] == 239
    assert "about 239 minutes of training" in (out / "MODEL_CARD.md").read_text()


def test_missing_corpus_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        build_python_lines.main(["--corpus", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
