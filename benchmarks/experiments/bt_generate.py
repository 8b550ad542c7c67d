"""Experiment (2026-12-03): back-translation pairs for a decoder-only fine-tune (`bt_finetune.py`).

Shifts a seeded, balanced sample of Yelp pool sentences (training text; never dev or test) to the
other sentiment with the shipped default model at the greedy headline's settings (strength auto up
to 14, anchor 10, keep norm, revert, known words; no refine, for speed), and writes one JSON line per
edit that changed its source: the source, its label, the edit and the strength that made it.

    python benchmarks/experiments/bt_generate.py PER_CLASS SEED THREADS LABELS OUT.jsonl   # LABELS: 0, 1 or 0,1
"""

import json
import random
import sys
import time

import torch

from latentedit import LatentEditor, datasets

per_class, seed, threads, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[5]
wanted = [int(label) for label in sys.argv[4].split(",")]
torch.set_num_threads(threads)
editor = LatentEditor.load("default")
editor.quiet = True
pool, labels = datasets.yelp(datasets.data_root(), "pool")  # $LATENTEDIT_DATA, else ../shared/data
rng = random.Random(seed)
by_label = [[t for t, y in zip(pool, labels) if y == label] for label in (0, 1)]
start, written = time.time(), 0
with open(out, "w") as f:
    for label, texts in enumerate(by_label):
        sample = rng.sample(texts, per_class)  # drawn for every label, so that a label's sample does not depend on LABELS
        if label not in wanted:
            continue
        goal = ("positive", "negative")[label]
        for i in range(0, per_class, 64):
            batch = sample[i : i + 64]
            results = editor.shift(batch, goal, strength="auto", max_strength=14, anchor=10, revert=True, keep_norm=True)
            for text, result in zip(batch, results):
                if result.text != text and result.strength is not None:
                    f.write(json.dumps({"source": text, "label": label, "edit": result.text, "strength": result.strength,
                                        "arrived": result.scores.get("sentiment") == goal}) + "\n")
                    written += 1
            f.flush()
            print(f"label {label} {i + len(batch)}/{per_class} written {written} {time.time() - start:.0f}s", flush=True)
