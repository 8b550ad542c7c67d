"""benchmarks/refine.py on the shipped python-lines model and a six-line corpus (the Yelp rows
need ../shared/data and are skipped without it)."""

import json

import pytest
from scripts import load_script

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
