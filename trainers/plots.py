"""Training curves as a PNG: loss, reconstruction, rate and accuracy, train and held-out."""

from __future__ import annotations

import json
from pathlib import Path

from latentedit.model_folder import atomic_file

PANELS = [  # (title, train key, valid key)
    ("loss (nats / example)", "loss", None),
    ("reconstruction (nats / example)", "reconstruction", "reconstruction"),
    ("rate KL (nats / example)", "rate", "rate"),
    ("token accuracy", "token_accuracy", "teacher_forced_accuracy"),
    ("greedy exact match (valid)", None, "greedy_exact_match"),
    ("active units (valid)", None, "active_units"),
]


def plot_metrics(jsonl_path: str | Path, png_path: str | Path) -> None:
    """Draw every panel of PANELS from a trainer's metrics.jsonl into one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in Path(jsonl_path).read_text().splitlines() if line.strip()]
    train = [r for r in records if r.get("split") == "train"]
    valid = [r for r in records if r.get("split") == "valid"]
    figure, axes = plt.subplots(2, 3, figsize=(13, 7))
    for axis, (title, train_key, valid_key) in zip(axes.flat, PANELS):
        if train_key:
            axis.plot([r["step"] for r in train], [r[train_key] for r in train], label="train", lw=1)
        if valid_key:
            axis.plot([r["step"] for r in valid], [r[valid_key] for r in valid], "o-", label="valid", ms=3)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_file(png_path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=100)
    plt.close(figure)
