"""benchmarks/precision_speed.py: fp32 against bf16 training steps, on the shipped python-lines model."""

import json
import statistics

import pytest
from scripts import load_script

from trainers.train import cpu_has_native_bf16

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_precision_speed_times_both_precisions_on_the_same_batches(tmp_path, capsys):
    out = tmp_path / "precision.json"
    bench = load_script("benchmarks", "precision_speed", "precision_bench")
    argv = ["--model", "python-lines", "--batch-size", "4", "--repeats", "2", "--steps", "1", "--out", str(out)]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["batch_size"] == 4 and len(result["repeats"]) == 2
    assert all(r["fp32"] > 0 and r["bf16"] > 0 for r in result["repeats"])
    assert result["median_ratio"] == pytest.approx(statistics.median(r["bf16"] / r["fp32"] for r in result["repeats"]))
    assert result["native_bf16"] == cpu_has_native_bf16()
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"bf16_over_fp32={result['median_ratio']:.2f}"
    assert "| repeat | fp32 s/step |" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])
