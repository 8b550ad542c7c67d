"""benchmarks/refine.py, interpolation_beams.py and python_noise.py on the shipped python-lines model
and a six-line corpus (the Yelp rows need ../shared/data and are skipped without it)."""

import json

import pytest
from scripts import load_script

from latentedit import LatentEditor
from latentedit.evaluation import choose_pairs, reconstruction_metrics

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LINES = ["x = compute(a, b)", "return self._cache[key]", "import os", "total += len(items)",
         "raise ValueError('bad value')", "for name in names:"]


def test_refine_study_reports_each_step_count(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "valid.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "refine.json"
    argv = ["--models", "python-lines", "--steps", "0,20", "--texts", "6", "--pairs", "2",
            "--python-corpus", str(corpus), "--out", str(out)]
    assert load_script("benchmarks", "refine", "bench").main(argv) == 0
    result = json.loads(out.read_text())
    rows = result["models"]["python-lines"]["rows"]
    assert [r["refine"] for r in rows] == [0, 20] and all(r["examples"] == 6 for r in rows)
    plain, refined = rows
    assert refined["greedy_exact_match"] >= plain["greedy_exact_match"]
    assert refined["teacher_forced_accuracy"] > plain["teacher_forced_accuracy"]
    assert 0.0 <= refined["slerp"]["valid_share"] <= 1.0 and len(refined["slerp_sample"]) == 11
    assert "| refine |" in out.with_suffix(".md").read_text()
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        load_script("benchmarks", "refine", "bench").main(["--steps", "-1"])


def test_interpolation_beams_compares_beam_counts_with_greedy(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split in ("valid", "test"):
        (corpus / f"{split}.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "beams.json"
    bench = load_script("benchmarks", "interpolation_beams", "beams_bench")
    assert bench.main(["--corpus", str(corpus), "--splits", "valid", "--beams", "1,3", "--pairs", "2", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["splits"]["valid"]["rows"]
    assert [r["beams"] for r in rows] == [1, 3] and all(r["slerp"]["inner_points"] == 18 for r in rows)
    editor, first = LatentEditor.load("python-lines"), choose_pairs(LINES, 2, seed=0)[0]
    for row in rows:  # each row decodes its paths with its own beam count
        assert row["slerp_sample"] == [p.text for p in editor.interpolate(*first, num_beams=row["beams"])]
    assert 0.0 <= rows[1]["lerp"]["valid_share"] <= 1.0 and len(rows[1]["slerp_sample"]) == 11
    assert "| beams |" in out.with_suffix(".md").read_text()
    guarded = tmp_path / "guarded.json"
    assert bench.main(["--corpus", str(corpus), "--splits", "test", "--beams", "1", "--pairs", "2", "--python-syntax",
                       "--out", str(guarded)]) == 0
    plain, safe = json.loads(guarded.read_text())["splits"]["test"]["rows"]
    assert not plain["python_syntax"] and safe["python_syntax"] and plain["slerp_sample"] == rows[0]["slerp_sample"]
    assert safe["slerp"]["valid_share"] == 1.0 and safe["slerp_sample"] == [
        p.text for p in editor.interpolate(*first, python_syntax=True)]
    assert "| 1, guarded |" in guarded.with_suffix(".md").read_text()
    for bad in (["--beams", "4,8"], ["--splits", "train"], ["--beams", "1,x"], ["--refine", "-1"]):
        with pytest.raises(SystemExit):
            bench.main(bad)


def test_python_noise_measures_each_named_model_on_the_valid_split(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "valid.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "noise.json"
    bench = load_script("benchmarks", "python_noise", "noise_bench")
    models = "shipped=python-lines,missing=" + str(tmp_path / "nowhere")
    assert bench.main(["--models", models, "--corpus", str(corpus), "--lines", "3", "--pairs", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert list(result["models"]) == ["shipped"]  # a folder that does not load is skipped, not fatal
    row = result["models"]["shipped"]
    editor = LatentEditor.load("python-lines")
    report, _ = reconstruction_metrics(editor, LINES[:3], examples=0, refine=0)
    assert row["reconstruction"]["greedy_exact_match"] == report["greedy_exact_match"]
    assert row["slerp"]["inner_points"] == 18 and 0.0 <= row["lerp"]["valid_share"] <= 1.0
    assert "| shipped |" in out.with_suffix(".md").read_text() and row["train_reconstruction"] is None
    # --train-lines: the same reconstruction on train lines beside the valid ones (the over-fitting gap)
    (corpus / "train.txt").write_text("\n".join(LINES[::-1]) + "\n", encoding="utf-8")
    assert bench.main(["--models", "shipped=python-lines", "--corpus", str(corpus), "--lines", "3", "--pairs", "2",
                       "--train-lines", "2", "--note", "one model.", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["train_lines"] == 2 and result["models"]["shipped"]["train_reconstruction"]["examples"] == 2
    table = out.with_suffix(".md").read_text()
    assert "| model | train exact % | train token acc % | exact % |" in table and "one model." in table
    for bad in (["--models", "no-equals-sign"], ["--lines", "0"], ["--train-lines", "-1"]):
        with pytest.raises(SystemExit):
            bench.main(bad)
