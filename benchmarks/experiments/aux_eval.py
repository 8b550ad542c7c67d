"""Experiment (2026-12-03): fit a sentiment head (40,000 pool sentences per class, hidden 256) and
paired positive/negative directions on a model folder, then measure sentiment shifts of a seeded
Yelp dev sample (benchmarks/anchor_dev.py's figures) at the greedy headline's settings (refine 10,
keep norm, revert, known words), for each SELECT:LENGTH_PRIOR:MAX_STRENGTH:ANCHOR setting given.

    python benchmarks/experiments/aux_eval.py runs/aux5/model 100 1 smallest:0:14:10,closest:0:14:10
"""

import sys
import time
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]
import anchor_dev  # noqa: E402

from latentedit import LatentEditor, datasets  # noqa: E402
from trainers.build_default import balanced_sample, sentiment_direction_texts  # noqa: E402

folder, per_half, threads, settings = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
root = datasets.data_root()  # $LATENTEDIT_DATA, else ../shared/data
editor = LatentEditor.load(folder)
editor.quiet = True
start = time.time()
pool, labels = datasets.yelp(root, "pool")
texts, names = balanced_sample(pool, [("negative", "positive")[y] for y in labels], 40000, seed=0)
editor.fit_head("sentiment", texts, labels=names, hidden=256, description="experiment")
print("head", editor.heads["sentiment"].config.metric_value, round(time.time() - start), flush=True)
positive, negative = sentiment_direction_texts(root, 20000)
editor.learn_direction("positive", positive, negative, method="paired", head="sentiment", target="positive")
editor.learn_direction("negative", negative, positive, method="paired", head="sentiment", target="negative")
print("directions", round(time.time() - start), flush=True)
editor.refine = 10
negative_dev, positive_dev = anchor_dev.dev_halves(root, per_half, 0)
judges = anchor_dev.dev_judges(root)
for setting in settings.split(","):
    select, prior, max_strength, anchor = setting.split(":")
    editor.edit_length_prior = float(prior)
    results, figures = anchor_dev.measure(editor, judges, negative_dev, positive_dev, strength="auto",
                                          max_strength=float(max_strength), anchor=float(anchor), revert=True,
                                          keep_norm=True, select=select)
    print(folder, setting, {k: round(v, 2) for k, v in figures.items()}, flush=True)
for result in results[:6] + results[per_half : per_half + 6]:
    print("   ", result.source_text, "->", result.text)
