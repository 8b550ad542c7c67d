"""The shipped default model: it loads offline, has its built-in heads and directions, and edits run.

Quality is measured by the benchmarks (benchmarks/style_transfer.py, benchmarks/formality.py),
not here.
"""

import json

import pytest
import torch

from latentedit import LatentEditor
from latentedit.cli import main
from latentedit.editor import BUILTIN_MODELS, builtin_models

FOLDER = BUILTIN_MODELS / "default"
HEADS = {"sentiment": "classification", "formality": "regression", "likes": "regression", "topic": "classification"}
DIRECTIONS = {"positive", "negative", "formal", "informal", "shakespearean", "modern"}


@pytest.fixture(scope="module")
def editor():
    torch.manual_seed(0)
    return LatentEditor.load("default")


def test_the_default_model_ships_inside_the_package_within_50_mb():
    assert "default" in builtin_models()
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size <= 50 * 2**20, f"the default model folder holds {size / 2**20:.1f} MB"
    card = (FOLDER / "MODEL_CARD.md").read_text()
    assert "python -m trainers" in card  # the command that reproduces it
    metrics = json.loads((FOLDER / "metrics.json").read_text())
    assert {"heads", "health"} <= set(metrics)


def test_it_has_the_built_in_heads_and_directions(editor):
    assert {name: head.config.kind for name, head in editor.heads.items()} == HEADS
    assert set(editor.directions) >= DIRECTIONS
    assert set(editor.heads["sentiment"].config.labels) == {"negative", "positive"}


def test_its_edits_write_known_words(editor):
    assert editor.known_words and {"the", "food", "great", "."} <= editor.lexicon.words
    assert "greatider" not in editor.lexicon.words  # a broken word the model once glued from pieces


def test_a_yelp_sentence_round_trips(editor):
    assert editor.reconstruct("the food was great .") == "the food was great ."


def test_shift_and_optimize_run(editor):
    shifted = editor.shift(["the food was cold .", "the staff was rude ."], "positive", strength="auto")
    assert len(shifted) == 2 and all(r.text and r.strength > 0 for r in shifted)
    assert editor.shift("the food was cold .", "formal", strength=0.0).text == editor.reconstruct("the food was cold .")
    result = editor.optimize("thanks for coming out tonight !", {"likes": "max"}, steps=10)
    assert result.text and {"likes", "sentiment", "formality", "topic"} <= set(result.scores)
    assert result.trajectory[0]["step"] == 0


def test_the_cli_uses_the_default_model_offline(capsys):
    assert main(["shift", "--direction", "formal", "--json", "hey whats up"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert row["source_text"] == "hey whats up" and row["text"]


def test_the_demo_runs_offline_on_the_default_model(tmp_path, capsys):
    """The README's main job: shift tables with the dev-chosen settings, optimize, interpolation."""
    from latentedit import demo

    demo.run(tmp_path)
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long titles
    for direction, settings in demo.DEMO_SHIFTS.items():
        assert f"latentedit shift --direction {direction} --strength auto --max-strength {settings['max_strength']:g}" in out
    formal = demo.DEMO_SHIFTS["formal"]
    assert (f"--anchor {formal['anchor']:g} --revert --min-gain {formal['min_gain']:g} --keep-norm --refine "
            f"{formal['refine']} --length-prior {formal['length_prior']:g}") in out
    assert "--anchor 10 --revert --keep-norm --refine 10" in out
    assert "(latentedit reconstruct [--refine 10])" in out
    assert "latentedit optimize --head likes" in out
    assert not list(tmp_path.iterdir())  # the default model needs no training in the workdir
