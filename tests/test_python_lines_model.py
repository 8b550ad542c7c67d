"""The shipped python-lines model: it loads offline, stays within 50 MB, carries its card, and
encodes, decodes and interpolates Python lines. Quality is in its card (trainers/build_python_lines.py)."""

import json

import pytest
import torch

from latentedit import LatentEditor
from latentedit.editor import BUILTIN_MODELS, builtin_models

FOLDER = BUILTIN_MODELS / "python-lines"
LINES = ["x = foo(1, 2)", "return self._value"]


@pytest.fixture(scope="module")
def editor():
    torch.manual_seed(0)
    return LatentEditor.load("python-lines")


def test_it_ships_inside_the_package_within_50_mb():
    assert "python-lines" in builtin_models()
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size <= 50 * 2**20, f"the python-lines folder holds {size / 2**20:.1f} MB"
    assert "python -m trainers.build_python_lines" in (FOLDER / "MODEL_CARD.md").read_text()
    test = json.loads((FOLDER / "metrics.json").read_text())["test"]
    assert test["kind"] == "python" and test["health"]["active_units"] == test["code_size"]


def test_it_encodes_decodes_and_interpolates_python(editor):
    codes = editor.encode(LINES)
    assert codes.shape == (2, editor.model.config.code_size) and torch.isfinite(codes).all()
    assert all(isinstance(text, str) and text for text in editor.decode(codes))
    path = editor.interpolate(*LINES, steps=5)
    assert len(path) == 5 and all(isinstance(point.text, str) for point in path)
