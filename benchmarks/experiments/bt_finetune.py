"""Experiment (2026-12-03): back-translation for the decoder alone.

The shipped model's decoder answers a sentiment shift with stock phrases ("is great", "was not")
where a human would write the source word's antonym. Back-translation gives it real targets: each
pair from `bt_generate.py` holds a pool sentence x and the model's own edit y of it toward the
other sentiment; shifting y's code back toward x's sentiment (same strength, keep norm) must decode
to x, a real sentence. Half of each batch is such pairs, half plain reconstruction of the default
corpus (posterior samples), so that the decoder keeps reconstructing. The encoder, the shared
embeddings and everything before the code are frozen: codes, heads and directions stay valid, and
only what the decoder writes changes.

    python benchmarks/experiments/bt_finetune.py runs/bt/pairs0.jsonl,runs/bt/pairs1.jsonl 30 runs/bt/model
"""

import json
import random
import sys
import time
from pathlib import Path

import torch
from finetuning import decoder_parameters, decoding_loss, rows, save_beside_default, schedule  # this folder

from latentedit import LatentEditor, datasets
from latentedit.editor import moved
from trainers.default_corpus import corpus_sources

PAIR_FILES, MINUTES, OUT = sys.argv[1].split(","), float(sys.argv[2]), Path(sys.argv[3])
LR, BATCH, WARMUP, RECONSTRUCTIONS, BT_SHARE = 1e-4, 128, 50, 60_000, 0.5
torch.manual_seed(0)
torch.set_num_threads(2)
editor = LatentEditor.load("default")
model, tokenizer = editor.model, editor.tokenizer
GOALS = ("negative", "positive")  # label -> the direction toward it


def posterior(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder means and log-variances (N, K, dz) of texts."""
    encoded = tokenizer.encode(texts, model.config.max_length)
    means, logvars = [], []
    with torch.no_grad():
        for i in range(0, len(texts), 512):
            mask = encoded.mask[i : i + 512]
            width = int(mask.sum(1).max())
            mean, logvar = model.encode(encoded.ids[i : i + 512, :width], mask[:, :width])
            means.append(mean)
            logvars.append(logvar)
    return torch.cat(means), torch.cat(logvars)


pairs = [json.loads(line) for path in PAIR_FILES for line in open(path)]
pairs = [p for p in pairs if p["arrived"]]
edits, _ = posterior([p["edit"] for p in pairs])  # (P, K, dz)
vectors = torch.stack([editor._direction(GOALS[p["label"]]).vector for p in pairs])  # (P, D) back toward x's sentiment
strengths = torch.tensor([p["strength"] for p in pairs]).unsqueeze(1)
bt_codes = moved(edits.flatten(1), strengths * vectors, torch.tensor([1.0]), keep_norm=True).squeeze(1).view_as(edits)
bt_targets = tokenizer.encode([p["source"] for p in pairs], model.config.max_length)
corpus = [t for texts in corpus_sources(datasets.data_root()).values() for t in texts]
texts = random.Random(0).sample(corpus, RECONSTRUCTIONS)
rec_means, rec_logvars = posterior(texts)
rec_targets = tokenizer.encode(texts, model.config.max_length)
print(f"{len(pairs)} pairs, {len(texts)} reconstruction texts", flush=True)

trainable = decoder_parameters(model)
optimizer = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.01)


generator = torch.Generator().manual_seed(0)
n_bt = int(BATCH * BT_SHARE)
start, step, log = time.time(), 0, []
model.train()
while (used := (time.time() - start) / 60 / MINUTES) < 1:
    for group in optimizer.param_groups:
        group["lr"] = LR * schedule(step, used, WARMUP)
    bt_index = torch.randint(len(pairs), (n_bt,), generator=generator)
    rec_index = torch.randint(len(texts), (BATCH - n_bt,), generator=generator)
    bt_loss, bt_acc = decoding_loss(model, bt_codes[bt_index], *rows(bt_targets, bt_index))
    mean, logvar = rec_means[rec_index], rec_logvars[rec_index]
    sampled = mean + torch.randn(mean.shape, generator=generator) * (0.5 * logvar).exp()  # posterior samples
    rec_loss, rec_acc = decoding_loss(model, sampled, *rows(rec_targets, rec_index))
    (BT_SHARE * bt_loss + (1 - BT_SHARE) * rec_loss).backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    log.append((bt_loss.item(), bt_acc, rec_loss.item(), rec_acc))
    step += 1
    if step % 25 == 0:
        bt, bta, rec, reca = (sum(v) / len(v) for v in zip(*log[-25:]))
        print(f"step {step} {time.time() - start:.0f}s bt {bt:.2f} (tok acc {bta:.3f}) rec {rec:.2f} (tok acc {reca:.3f})",
              flush=True)
save_beside_default(model, OUT)
print("saved", OUT, "steps", step)
