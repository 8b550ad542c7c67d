"""trainers/syntax_distill.py: guarded targets between training lines, and a continued model that loads."""

import json

import pytest
import torch

from latentedit import LatentEditor
from latentedit.python_syntax import parses
from trainers import syntax_distill

LINES = ["x = foo(1, 2)", "return self._value", "import os", "d = {'a': [1, 2]}", "del items[0]", "y = f'{x!r}'",
         "raise ValueError('bad')", "for i in range(3): pass"]


def test_guarded_targets_are_python_between_training_pairs():
    editor = LatentEditor.load("python-lines")
    codes, targets = syntax_distill.guarded_targets(editor, LINES, pairs=2, seed=0)
    assert codes.shape == (2 * syntax_distill.STEPS_BETWEEN, editor.model.config.code_size)
    assert len(targets) == len(codes) and all(parses(t) for t in targets)


def test_a_continued_model_loads_and_logs_both_losses(tmp_path, one_torch_thread):  # main() sets the threads: restored after
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "run" / "model"
    argv = ["--corpus", str(corpus), "--out", str(out), "--pairs", "2", "--steps", "2", "--batch-size", "4"]
    assert syntax_distill.main(argv) == 0
    log = json.loads((tmp_path / "run" / "distill.json").read_text())["log"]
    assert [r["step"] for r in log] == [1, 2] and all(r["distill"] > 0 and r["loss"] > 0 for r in log)
    before, after = LatentEditor.load("python-lines"), LatentEditor.load(out)
    assert any(not torch.equal(a, b) for a, b in zip(before.model.parameters(), after.model.parameters()))
    with pytest.raises(SystemExit):
        syntax_distill.main(["--corpus", str(corpus), "--out", str(out), "--steps", "0"])
