"""Training step time in fp32 against bf16 autocast, for one model's shape, on this machine.

The training configs ask for bf16 autocast (`mixed_precision = "bf16"`). On a CPU with native
bf16 (AVX512-BF16 or AMX) that is faster than fp32; without it torch emulates bf16 and the
trainer falls back to fp32 (trainers/train.py, effective_precision). This measures both on the
same model and batches: repeats alternate fp32 and bf16 rounds in one process, and the ratio is
the median of the per-repeat ratios (bf16 time / fp32 time; above 1 means bf16 is slower).

    python benchmarks/precision_speed.py --threads 1                 # the default model's shape
    python benchmarks/precision_speed.py --model python-lines --repeats 5

Writes benchmarks/results/precision_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from common import RESULTS, environment, markdown_table, write_json, write_text

from latentedit import LatentEditor
from latentedit.data import SAMPLE_REVIEWS, read_texts
from trainers.train import cpu_has_native_bf16


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", default="default", help="model folder or built-in name whose shape (and weights) to train")
    ap.add_argument("--batch-size", type=int, default=128, help="examples per step (the shipped models' configs)")
    ap.add_argument("--repeats", type=int, default=3, help="alternating fp32 / bf16 rounds (at least 1)")
    ap.add_argument("--steps", type=int, default=2, help="timed steps per round, after one untimed step")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(RESULTS / "precision_speed.json"), help="result JSON; the .md beside it")
    args = ap.parse_args(argv)
    if min(args.batch_size, args.repeats, args.steps, args.threads) < 1:
        ap.error("--batch-size, --repeats, --steps and --threads must be at least 1")
    return args


def seconds_per_step(model, ids: torch.Tensor, mask: torch.Tensor, bf16: bool, steps: int) -> float:
    """Mean seconds of ``steps`` training steps (forward, backward, AdamW) after one untimed step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(ids, mask).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def markdown(result: dict) -> str:
    rows = [[str(i + 1), f"{r['fp32']:.2f}", f"{r['bf16']:.2f}", f"{r['bf16'] / r['fp32']:.2f}"]
            for i, r in enumerate(result["repeats"])]
    return "\n".join([
        "# Training step time: fp32 against bf16 autocast", "", f"`{result['command']}`", "",
        f"{result['environment']['date']}, torch {result['environment']['torch']}, CPU capability "
        f"{result['cpu_capability']}, native bf16: {'yes' if result['native_bf16'] else 'no'}, "
        f"{result['environment']['torch_threads']} torch thread(s). Model {result['model']} "
        f"({result['parameters']:,} parameters), batch {result['batch_size']} x {result['tokens']} tokens of the "
        f"sample reviews, {result['steps']} timed step(s) per round after an untimed one.", "",
        *markdown_table(["repeat", "fp32 s/step", "bf16 s/step", "bf16 / fp32"], rows), "",
        f"**Median ratio bf16 / fp32 = {result['median_ratio']:.2f}** (above 1: bf16 is slower). The trainer trains "
        f"in {'bf16' if result['native_bf16'] else 'fp32'} on this machine when a config asks for bf16.", ""])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = LatentEditor.load(args.model).model.train()
    texts = read_texts(SAMPLE_REVIEWS, "text")[: args.batch_size]
    batch = model.tokenizer.encode(texts, model.config.max_length)
    width = int(batch.mask.sum(1).max())
    ids, mask = batch.ids[:, :width], batch.mask[:, :width]
    repeats = []
    for repeat in range(args.repeats):
        timed = {name: seconds_per_step(model, ids, mask, name == "bf16", args.steps) for name in ("fp32", "bf16")}
        repeats.append(timed)
        print(f"  repeat {repeat + 1}: fp32 {timed['fp32']:.2f} s/step, bf16 {timed['bf16']:.2f} s/step", file=sys.stderr)
    result = {"command": ("python benchmarks/precision_speed.py " + " ".join(argv)).strip(),
              "environment": environment(args.threads), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "native_bf16": cpu_has_native_bf16(), "model": args.model,
              "parameters": sum(p.numel() for p in model.parameters()), "batch_size": len(texts), "tokens": width,
              "steps": args.steps, "repeats": repeats,
              "median_ratio": statistics.median(r["bf16"] / r["fp32"] for r in repeats)}
    out = Path(args.out)
    write_json(result, out)
    write_text(markdown(result), out.with_suffix(".md"))
    print(f"bf16_over_fp32={result['median_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
