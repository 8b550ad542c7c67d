"""Teach a Python-lines model's decoder to write Python that parses between codes, from its own guarded decodings.

Greedy decoding of a point between two lines' codes often leaves a bracket or a quote open;
decoding guarded to Python that can still parse (latentedit.python_syntax) does not. This script
continues a model with two losses per step: its usual training loss on a batch of training lines,
and ``--weight`` times the decoder's cross-entropy of the guarded decodings at interpolation
points between pairs of *training* lines (decoded once, before training, from the starting
model's codes; slerp at t = 0.1 ... 0.9). Python's parser thus teaches the decoder at training
time only: at test time decoding is plain greedy, and the evaluation (benchmarks/python_noise.py
on the valid split, the model card on the test split) measures what the decoder learned.

    python -m trainers.syntax_distill --model latentedit/models/python-lines \\
        --corpus runs/regularizers/python-corpus --out runs/python-lines-syntax/model --steps 1500
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from latentedit import LatentEditor
from latentedit.editor import slerp
from latentedit.evaluation import choose_pairs
from latentedit.model import IGNORE_INDEX
from latentedit.model_folder import atomic_file

STEPS_BETWEEN = 9  # interpolation points per pair: t = 0.1, ..., 0.9


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="python-lines", help="model folder or built-in name to continue")
    ap.add_argument("--corpus", required=True, help="a Python-lines corpus folder (python -m latentedit.python_lines)")
    ap.add_argument("--out", required=True, help="model folder to write")
    ap.add_argument("--pairs", type=int, default=2000, help="training-line pairs whose paths give targets")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=64, help="training lines, and as many targets, per step")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--weight", type=float, default=1.0, help="weight of the targets' loss")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if min(args.pairs, args.steps, args.batch_size, args.threads) < 1 or not args.lr > 0 or args.weight < 0:
        ap.error("--pairs, --steps, --batch-size and --threads must be >= 1, --lr > 0, --weight >= 0")
    return args


def guarded_targets(editor: LatentEditor, lines: list[str], pairs: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """Codes (N, D) of the inner points of ``pairs`` pairs of ``lines`` and their guarded decodings."""
    chosen = choose_pairs(lines, pairs, seed=seed)
    codes = editor.encode([text for pair in chosen for text in pair]).view(len(chosen), 2, -1)
    ts = [(i + 1) / (STEPS_BETWEEN + 1) for i in range(STEPS_BETWEEN)]
    points = torch.stack([slerp(a, b, t) for a, b in codes for t in ts])  # (P*9, D)
    return points, editor.decode(points, python_syntax=True)


def decoder_loss(model, codes: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Teacher-forced cross-entropy of ids (B, T) decoded from flat codes (B, D), summed over tokens, mean over rows."""
    z = codes.view(codes.shape[0], model.config.latent_tokens, model.config.latent_dim)
    logits = model.decoder_logits(model.decoder_inputs(ids), *model.latent_context(z))  # (B, T, V)
    labels = ids.masked_fill(~mask.bool(), IGNORE_INDEX)
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX,
                           reduction="sum") / ids.shape[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    editor = LatentEditor.load(args.model)
    editor.quiet = True
    corpus = Path(args.corpus)
    lines = (corpus / "train.txt").read_text(encoding="utf-8").splitlines()
    started = time.perf_counter()
    codes, targets = guarded_targets(editor, lines, args.pairs, args.seed)
    print(f"{len(targets)} guarded targets from {args.pairs} training pairs in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    max_length = editor.model.config.max_length
    line_batch, target_batch = editor.tokenizer.encode(lines, max_length), editor.tokenizer.encode(targets, max_length)
    model = editor.model
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    rng = random.Random(args.seed)
    log = []
    for step in range(args.steps):
        rows = torch.tensor(rng.sample(range(len(lines)), args.batch_size))
        picks = torch.tensor(rng.sample(range(len(targets)), args.batch_size))
        ids, mask = line_batch.ids[rows], line_batch.mask[rows]
        width = int(mask.sum(1).max())
        output = model(ids[:, :width], mask[:, :width])
        tids, tmask = target_batch.ids[picks], target_batch.mask[picks]
        twidth = int(tmask.sum(1).max())
        distill = decoder_loss(model, codes[picks], tids[:, :twidth], tmask[:, :twidth])
        loss = output.loss + args.weight * distill
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        log.append({"step": step + 1, "loss": output.loss.item(), "distill": distill.item(),
                    "token_accuracy": output.token_accuracy.item()})
        if (step + 1) % 50 == 0:
            recent = log[-50:]
            print(f"step {step + 1}: loss {sum(r['loss'] for r in recent) / 50:.2f}, targets' loss "
                  f"{sum(r['distill'] for r in recent) / 50:.2f}, token accuracy "
                  f"{sum(r['token_accuracy'] for r in recent) / 50:.3f}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model.eval()
    out = Path(args.out)
    editor.save(out)
    with atomic_file(out.parent / "distill.json") as stream:
        stream.write(json.dumps({"args": vars(args), "log": log}) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
