"""Experiment (2026-12-03, not kept): does a code from which sentiment is linearly readable give
better Yelp sentiment edits?

Continues the shipped default model on the Yelp stand-in pool for MINUTES of wall time with a
linear sentiment classifier on the code means added to the loss (weight LAMBDA), then saves the
model (without heads or directions) to OUT. `aux_eval.py` then fits a sentiment head and paired
directions on it and measures edits on Yelp dev. Results: `README.md` in this folder.

    python benchmarks/experiments/aux_finetune.py 5 40 runs/aux5/model    # 2 threads, ~3,200 steps
"""

import shutil
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from finetuning import rows, schedule  # this folder (sys.path[0] when run as a script)

from latentedit import LatentEditor, datasets
from latentedit.model_folder import save_model

LAMBDA, MINUTES, OUT = float(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
LR, AUX_LR, BATCH, WARMUP = 3e-4, 1e-3, 128, 50
torch.manual_seed(0)
torch.set_num_threads(2)
editor = LatentEditor.load("default")
model, tokenizer = editor.model, editor.tokenizer
pool, labels = datasets.yelp(datasets.data_root(), "pool")  # $LATENTEDIT_DATA, else ../shared/data
encoded = tokenizer.encode(pool, model.config.max_length)
targets = torch.tensor(labels)
classifier = torch.nn.Linear(model.config.code_size, 2)
with torch.no_grad():
    classifier.weight.zero_()
    classifier.bias.zero_()
optimizer = torch.optim.AdamW([{"params": model.parameters(), "lr": LR}, {"params": classifier.parameters(), "lr": AUX_LR}],
                              weight_decay=0.01)
generator = torch.Generator().manual_seed(0)
start, step, log = time.time(), 0, []
model.train()
while (used := (time.time() - start) / 60 / MINUTES) < 1:
    factor = schedule(step, used, WARMUP)
    for group, base in zip(optimizer.param_groups, (LR, AUX_LR)):
        group["lr"] = base * factor
    index = torch.randint(len(pool), (BATCH,), generator=generator)
    output = model(*rows(encoded, index))
    logits = classifier(output.mean.flatten(1).float())  # (B, 2) from the code means (B, 1, D)
    aux = F.cross_entropy(logits, targets[index])
    (output.loss + LAMBDA * aux).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    log.append((output.reconstruction.item(), aux.item(), (logits.argmax(-1) == targets[index]).float().mean().item(),
                output.token_accuracy.item()))
    step += 1
    if step % 25 == 0:
        rec, ce, acc, tokens = (sum(v) / len(v) for v in zip(*log[-25:]))
        print(f"step {step} {time.time() - start:.0f}s rec {rec:.2f} ce {ce:.3f} aux acc {acc:.3f} tok acc {tokens:.3f}",
              flush=True)
model.eval()
model.tokenizer = tokenizer
if OUT.exists():
    shutil.rmtree(OUT)
shutil.copytree("latentedit/models/default", OUT, ignore=shutil.ignore_patterns("heads", "directions"))
save_model(model, OUT)
print("saved", OUT, "steps", step)
