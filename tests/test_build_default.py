"""trainers/build_default.py: the pieces that need no datasets (the full build needs ../shared/data
and minutes of fitting; it is run by hand, see its docstring)."""

import json

import pytest

from latentedit import VAEConfig
from trainers import build_default


def test_card_names_the_shape_and_the_measured_figures(tmp_path):
    config = VAEConfig(latent_tokens=1, latent_dim=256, encoder_layers=2, decoder_layers=2, d_model=256).to_dict()
    summary = {
        "model": config, "train_minutes": 95, "build_minutes": 7.5,
        "heads": {"sentiment": {"kind": "classification", "accuracy": 0.875, "train_examples": 10, "heldout_examples": 5,
                                "hidden": 0, "weight_decay": 0.1},
                  "topic": {"kind": "classification", "accuracy": 0.5, "train_examples": 8, "heldout_examples": 2,
                            "hidden": 1024, "layers": 2, "weight_decay": 0.01}},
        "directions": [{"name": "positive", "head": "sentiment", "target": "positive", "description": "Yelp"}],
        "health": {"greedy_exact_match": 0.3125, "rate": 512.0, "active_units": "256 / 256"},
        "corpus": {"train_lines": 1234, "sources": {"yelp": {"lines": 1300, "kept_after_dedup": 1234}}},
    }
    build_default.write_card(tmp_path, summary)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "1 latent token(s) x 256 dims, 2+2 layers of width 256" in card
    assert "About 95 minutes of training" in card and "reproduces 31% of held-out Yelp sentences" in card
    assert "| `sentiment` | classification | 0.875 (accuracy) | 10 / 5 | linear, weight decay 0.1 |" in card
    assert "| `topic` | classification | 0.500 (accuracy) | 8 / 2 | MLP 1024 x 2, weight decay 0.01 |" in card
    assert "| yelp | 1300 | 1234 |" in card
    assert json.loads((tmp_path / "metrics.json").read_text())["train_minutes"] == 95
    assert "| yelp | 1300 | 1234 |\n\n- **yelp**" in card  # no corpus note: none written
    summary["corpus"]["note"] = "This corpus predates a reader fix."  # what a rebuild would change
    build_default.write_card(tmp_path, summary)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "| yelp | 1300 | 1234 |\n\nThis corpus predates a reader fix.\n\n- **yelp**" in card


def test_a_head_takes_the_capacity_that_wins_on_the_selection_split(review_editor, review_corpus):
    report = build_default.fit_chosen_head(review_editor, "mood", review_corpus.texts, 16, "test head",
                                           labels=list(review_corpus.labels))
    assert set(report["selection"]) == {"hidden 0, weight decay 0.001", "hidden 16, weight decay 0.001",
                                        "hidden 16, weight decay 0.1"}
    best = max(report["selection"], key=report["selection"].get)
    assert best == report["capacity"] == f"hidden {report['hidden']}, weight decay {report['weight_decay']:g}"
    head = review_editor.heads.pop("mood")  # the fixture is shared: leave it as it was
    assert head.config.hidden == report["hidden"] and head.config.metric_value == report["accuracy"]


def test_capacity_names_show_layers_and_batches():
    assert build_default.capacity_name({"hidden": 0, "weight_decay": 1e-3}) == "hidden 0, weight decay 0.001"
    assert build_default.capacity_name({"hidden": 1024, "layers": 2, "weight_decay": 0.01, "batch_size": 512}) == (
        "hidden 1024 x 2, weight decay 0.01, batches of 512")


def test_balanced_sample_takes_as_many_of_each_label_as_the_smallest_has():
    texts = [f"a{i}" for i in range(3)] + [f"b{i}" for i in range(5)]
    labels = ["a"] * 3 + ["b"] * 5
    sample, sampled_labels = build_default.balanced_sample(texts, labels, 4, seed=0)
    assert sorted(sampled_labels) == ["a"] * 3 + ["b"] * 3
    assert all(t[0] == label for t, label in zip(sample, sampled_labels))
    assert build_default.balanced_sample(texts, labels, 4, seed=0) == (sample, sampled_labels)  # seeded
    assert len(build_default.balanced_sample(texts, labels, 2, seed=0)[0]) == 4


def test_help_prints(capsys):  # a bare % in a help string once broke --help
    with pytest.raises(SystemExit) as done:
        build_default.main(["--help"])
    assert done.value.code == 0
    assert "--head-per-class" in capsys.readouterr().out
