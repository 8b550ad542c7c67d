"""Training speed of the Transformer-VAE against a plain T5 autoencoder of the same backbone.

Both models train (AdamW, forward, backward, grad clip, step) on the same tokenised batches in
one process, interleaved: each repeat times the VAE and the plain model back to back, in
alternating order, after warm-up steps. Speed is non-pad target tokens per second; the figure
of merit is ratio = median VAE tokens/s / median plain tokens/s (goal: >= 0.9). Peak memory
(RSS) of each model is measured in its own short child process.

    python benchmarks/train_speed.py            # DESIGN.md mid size: d256, 4+4 layers, batch 64 x 32
    python benchmarks/train_speed.py --quick    # d128, 2+2 layers, few steps (< 1 minute on 2 cores)

Writes benchmarks/results/train_speed.json (train_speed_quick.json with --quick) and a .md
table beside it; the last line printed is ``vae_vs_plain_tokens_per_s_ratio=<x>``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers
from transformers import T5Config, T5ForConditionalGeneration

from latentedit.config import REGULARIZERS, VAEConfig
from latentedit.data import SAMPLE_REVIEWS, read_texts
from latentedit.model import IGNORE_INDEX, TransformerVAE
from latentedit.model_folder import atomic_file
from latentedit.tokenizer import Tokenizer

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("vae", "plain")
#: presets: backbone (layers per stack) and timing (timed rounds, steps per round, warm-up steps)
FULL = dict(d_model=256, layers=4, d_ff=1024, heads=4, d_kv=64, repeats=7, steps=4, warmup=3)
QUICK = dict(d_model=128, layers=2, d_ff=512, heads=4, d_kv=32, repeats=3, steps=2, warmup=1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(SAMPLE_REVIEWS),
                    help="training texts, txt/csv/tsv/jsonl (default: the bundled 400 Yelp sentences)")
    ap.add_argument("--column", default="text", help="text column of a csv/tsv/jsonl file (default: text)")
    ap.add_argument("--quick", action="store_true", help="small backbone (d128, 2+2 layers) and few steps")
    ap.add_argument("--regularizer", default="mmd", choices=REGULARIZERS, help="VAE regulariser (default: mmd)")
    ap.add_argument("--d-model", type=int, help=f"model width (default {FULL['d_model']}, quick {QUICK['d_model']})")
    ap.add_argument("--layers", type=int, help=f"encoder and decoder layers each (default {FULL['layers']}, "
                                                        f"quick {QUICK['layers']})")
    ap.add_argument("--d-ff", type=int, help="feed-forward width (default 4 x d_model)")
    ap.add_argument("--heads", type=int, help="attention heads (default 4)")
    ap.add_argument("--d-kv", type=int, help="width per head (default d_model / heads)")
    ap.add_argument("--latent-tokens", type=int, default=4, help="K latent tokens (default 4)")
    ap.add_argument("--latent-dim", type=int, default=32, help="dimension of each latent token (default 32)")
    ap.add_argument("--vocab-size", type=int, default=8192, help="BPE vocabulary trained on the data, an upper bound "
                                                                        "(default 8192)")
    ap.add_argument("--batch-size", type=int, default=64, help="examples per step (default 64)")
    ap.add_argument("--max-length", type=int, default=32, help="tokens per example, </s> included (default 32)")
    ap.add_argument("--dropout", type=float, default=0.1, help="dropout of both models (default 0.1)")
    ap.add_argument("--repeats", type=int, help=f"timed rounds per model, >= 3 (default {FULL['repeats']}, "
                                                         f"quick {QUICK['repeats']})")
    ap.add_argument("--steps", type=int, help=f"training steps per timed round (default {FULL['steps']}, quick {QUICK['steps']})")
    ap.add_argument("--warmup", type=int, help=f"untimed steps per model first (default {FULL['warmup']}, "
                                                        f"quick {QUICK['warmup']})")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: leave torch's default)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the batch order and the weights (default 0)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/train_speed.json, "
                                  "train_speed_quick.json with --quick); a .md table is written beside it")
    ap.add_argument("--_child", choices=MODELS, help=argparse.SUPPRESS)  # peak-memory child: one model
    ap.add_argument("--_tokenizer", help=argparse.SUPPRESS)  # child: tokenizer.json from the parent
    args = ap.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key in ("repeats", "steps", "warmup"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    args.d_model = args.d_model or preset["d_model"]
    args.layers = args.layers or preset["layers"]
    args.heads = args.heads or preset["heads"]
    args.d_ff = args.d_ff or 4 * args.d_model
    args.d_kv = args.d_kv or args.d_model // args.heads
    if args.repeats < 3:
        ap.error("--repeats must be at least 3 (medians of several runs)")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    if args.out is None:
        args.out = str(RESULTS / ("train_speed_quick.json" if args.quick else "train_speed.json"))
    return args


# -- data and models ------------------------------------------------------------------------------

def make_batches(args, tokenizer: Tokenizer, texts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed shuffled batches of batch_size, each cut to its longest row (as the trainer does)."""
    encoded = tokenizer.encode(texts, args.max_length)
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(args.seed))
    batches = []
    for start in range(0, len(texts) - args.batch_size + 1, args.batch_size):
        index = order[start : start + args.batch_size]
        mask = encoded.mask[index]
        width = int(mask.sum(1).max())
        batches.append((encoded.ids[index, :width].to(args.device), mask[:, :width].to(args.device)))
    if not batches:
        sys.exit(f"error: {args.data} has {len(texts)} examples, fewer than --batch-size {args.batch_size}")
    return batches


def vae_config(args, vocab_size: int) -> VAEConfig:
    return VAEConfig(
        vocab_size=vocab_size, d_model=args.d_model, d_ff=args.d_ff, num_heads=args.heads, d_kv=args.d_kv,
        encoder_layers=args.layers, decoder_layers=args.layers, dropout=args.dropout, feed_forward="relu",
        max_length=args.max_length, latent_tokens=args.latent_tokens, latent_dim=args.latent_dim,
        regularizer=args.regularizer,
    )


def build(kind: str, config: VAEConfig) -> torch.nn.Module:
    """The VAE, or a plain T5 encoder-decoder autoencoder with the VAE's backbone."""
    if kind == "vae":
        return TransformerVAE(config)
    t5 = T5Config(
        vocab_size=config.vocab_size, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
        num_layers=config.encoder_layers, num_decoder_layers=config.decoder_layers,
        num_heads=config.num_heads, dropout_rate=config.dropout, feed_forward_proj=config.feed_forward,
        pad_token_id=config.pad_token_id, eos_token_id=config.eos_token_id,
        decoder_start_token_id=config.bos_token_id, use_cache=False, tie_word_embeddings=True,
    )
    return T5ForConditionalGeneration(t5)


class Trainer:
    """One model with its AdamW; ``step`` is one training step as in trainers/train.py."""

    def __init__(self, kind: str, config: VAEConfig, device: str):
        self.kind = kind
        self.model = build(kind, config).to(device).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, weight_decay=0.01)
        self.device = torch.device(device)

    def step(self, ids: torch.Tensor, mask: torch.Tensor) -> float:
        if self.kind == "vae":
            loss = self.model(ids, mask).loss
        else:
            labels = ids.masked_fill(~mask, IGNORE_INDEX)
            loss = self.model(input_ids=ids, attention_mask=mask.long(), labels=labels, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())  # a sync, as the trainer's logging does

    def run(self, batches, first: int, count: int) -> tuple[float, float, int]:
        """Train ``count`` steps on batches first, first+1, ...; returns (wall seconds, process CPU
        seconds, target tokens)."""
        self._sync()
        tokens, started, cpu_started = 0, time.perf_counter(), time.process_time()
        for i in range(first, first + count):
            ids, mask = batches[i % len(batches)]
            self.step(ids, mask)
            tokens += int(mask.sum())
        self._sync()
        return time.perf_counter() - started, time.process_time() - cpu_started, tokens

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


# -- peak memory (child process) ------------------------------------------------------------------

def max_rss_mb() -> float:
    """Peak RSS of this process in MB.

    On Linux, ru_maxrss of an exec'd child starts at its parent's RSS at fork time (the kernel
    carries the old address space's high-water mark over exec), so a child forked from this
    benchmark would report the parent's size. /proc/self/status VmHWM belongs to the new address
    space only; use it where it exists and ru_maxrss elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def child_main(args) -> None:
    """Train one model a few steps and print its peak RSS as JSON (run by measure_memory)."""
    torch.manual_seed(args.seed)
    tokenizer = Tokenizer.load(args._tokenizer)
    batches = make_batches(args, tokenizer, read_texts(args.data, _column(args)))
    before = max_rss_mb()
    trainer = Trainer(args._child, vae_config(args, tokenizer.vocab_size), args.device)
    widest = max(batches, key=lambda batch: batch[0].shape[1])
    trainer.run([widest], 0, 3)  # optimizer state appears at step 1; the widest batch holds the most activations
    result = {"peak_rss_mb": round(max_rss_mb(), 1), "rss_before_model_mb": round(before, 1),
              "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if trainer.device.type == "cuda":
        result["peak_cuda_allocated_mb"] = round(torch.cuda.max_memory_allocated(trainer.device) / 2**20, 1)
    print(json.dumps(result))


def measure_memory(argv: list[str], tokenizer_path: str) -> dict[str, dict]:
    results = {}
    for kind in MODELS:
        command = [sys.executable, str(Path(__file__).resolve()), *argv, "--_child", kind, "--_tokenizer", tokenizer_path]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"error: peak-memory child for {kind} failed:\n{done.stderr[-2000:]}")
        results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
        results[kind]["model_and_training_mb"] = round(results[kind]["peak_rss_mb"] - results[kind]["rss_before_model_mb"], 1)
    return results


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _column(args) -> str | None:
    return None if Path(args.data).suffix.lower() not in (".csv", ".tsv", ".jsonl") else args.column


# -- report ---------------------------------------------------------------------------------------

def table_rows(result: dict) -> list[list[str]]:
    rows = []
    for kind, label in (("vae", f"Transformer-VAE ({result['config']['regularizer']})"), ("plain", "plain T5 autoencoder")):
        speed = result["tokens_per_s"][kind]
        memory = result.get("peak_memory", {}).get(kind, {})
        rows.append([label, f"{result['parameters'][kind] / 1e6:.2f} M",
                     " / ".join(f"{x:,.0f}" for x in speed["per_repeat"]), f"{speed['median']:,.0f}",
                     f"{result['steps_per_s'][kind]['median']:.2f}",
                     f"{memory['peak_rss_mb']:,.0f}" if memory else "-"])
    return rows


HEADERS = ["model", "params", "tokens/s per repeat", "median tokens/s", "steps/s", "peak RSS MB"]


def markdown(result: dict, command: str) -> str:
    c = result["config"]
    lines = [
        "# Training speed: Transformer-VAE vs plain T5 autoencoder", "",
        f"`{command}`", "",
        f"{result['date']}, torch {result['torch']}, transformers {result['transformers']}, device {c['device']}, "
        f"{result['cpu_count']} CPUs, {result['torch_threads']} torch threads. Backbone d{c['d_model']}, "
        f"{c['layers']}+{c['layers']} layers, d_ff {c['d_ff']}, {c['heads']} heads x d_kv {c['d_kv']}, vocab "
        f"{c['vocab_size']}, latent {c['latent_tokens']}x{c['latent_dim']}, batch {c['batch_size']} x <= "
        f"{c['max_length']} tokens, {c['repeats']} repeats x {c['steps']} steps after {c['warmup']} warm-up steps. "
        f"Load average (1 min) {_fmt_load(result['load_average'])}.", "",
        "| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result)]
    lines += ["", f"**ratio (median VAE / median plain tokens/s) = {result['ratio']:.3f}** "
              f"(goal >= 0.9; median of per-repeat paired ratios {result['paired_ratio_median']:.3f}; "
              f"ratio of tokens per CPU-second {result['cpu_time_ratio']:.3f})", ""]
    return "\n".join(lines)


def _fmt_load(load: dict) -> str:
    if not load["before"]:
        return "unknown"
    return f"{load['before'][0]:.1f} before, {load['after'][0]:.1f} after"


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training speed, ratio {result['ratio']:.3f} (goal >= 0.9)")
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "model" else "right")
    for row in table_rows(result):
        table.add_row(*row)
    Console().print(table)


# -- main -----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args._child:
        child_main(args)
        return 0
    load_before = _load()
    if load_before and load_before[0] > (os.cpu_count() or 1):
        print(f"warning: load average {load_before[0]:.1f} on {os.cpu_count()} CPUs; other jobs will make "
              "the timings noisy", file=sys.stderr)
    torch.manual_seed(args.seed)
    texts = read_texts(args.data, _column(args))
    tokenizer = Tokenizer.train(texts, vocab_size=args.vocab_size)
    batches = make_batches(args, tokenizer, texts)
    config = vae_config(args, tokenizer.vocab_size)
    trainers = {kind: Trainer(kind, config, args.device) for kind in MODELS}
    print(f"{len(texts)} texts, {len(batches)} batches of {args.batch_size}, vocab {tokenizer.vocab_size}; "
          f"parameters: vae {parameters(trainers['vae'].model):,}, plain {parameters(trainers['plain'].model):,}",
          file=sys.stderr)

    for trainer in trainers.values():
        if args.warmup:
            trainer.run(batches, 0, args.warmup)
    per_repeat = {kind: {"seconds": [], "cpu_seconds": [], "tokens": []} for kind in MODELS}
    for repeat in range(args.repeats):
        order = MODELS if repeat % 2 == 0 else MODELS[::-1]
        for kind in order:  # both models see the same batches in each repeat
            seconds, cpu_seconds, tokens = trainers[kind].run(batches, repeat * args.steps, args.steps)
            per_repeat[kind]["seconds"].append(seconds)
            per_repeat[kind]["cpu_seconds"].append(cpu_seconds)
            per_repeat[kind]["tokens"].append(tokens)
        print(f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(
            f"{k} {per_repeat[k]['tokens'][-1] / per_repeat[k]['seconds'][-1]:,.0f} tok/s" for k in MODELS),
            file=sys.stderr)

    tokens_per_s, steps_per_s = {}, {}
    for kind in MODELS:
        rates = [t / s for t, s in zip(per_repeat[kind]["tokens"], per_repeat[kind]["seconds"])]
        tokens_per_s[kind] = {"per_repeat": [round(r, 1) for r in rates], "median": round(statistics.median(rates), 1)}
        steps_per_s[kind] = {"median": round(statistics.median(args.steps / s for s in per_repeat[kind]["seconds"]), 4)}
    paired = [v / p for v, p in zip(tokens_per_s["vae"]["per_repeat"], tokens_per_s["plain"]["per_repeat"])]
    cpu_rates = {kind: statistics.median(t / s for t, s in zip(per_repeat[kind]["tokens"], per_repeat[kind]["cpu_seconds"]))
                 for kind in MODELS}
    result = {
        "benchmark": "train_speed",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/train_speed.py", *argv]),
        "config": {
            "data": Path(args.data).name, "texts": len(texts), "batches": len(batches), "batch_size": args.batch_size,
            "max_length": args.max_length, "vocab_size": tokenizer.vocab_size, "d_model": args.d_model,
            "layers": args.layers, "d_ff": args.d_ff, "heads": args.heads, "d_kv": args.d_kv,
            "latent_tokens": args.latent_tokens, "latent_dim": args.latent_dim, "regularizer": args.regularizer,
            "dropout": args.dropout, "repeats": args.repeats, "steps": args.steps, "warmup": args.warmup,
            "device": args.device, "seed": args.seed, "quick": args.quick, "vae_config": config.to_dict(),
        },
        "parameters": {kind: parameters(trainers[kind].model) for kind in MODELS},
        "seconds_per_repeat": {kind: [round(s, 4) for s in per_repeat[kind]["seconds"]] for kind in MODELS},
        "cpu_seconds_per_repeat": {kind: [round(s, 4) for s in per_repeat[kind]["cpu_seconds"]] for kind in MODELS},
        "tokens_per_repeat": {kind: per_repeat[kind]["tokens"] for kind in MODELS},
        "tokens_per_s": tokens_per_s,
        "steps_per_s": steps_per_s,
        "ratio": round(tokens_per_s["vae"]["median"] / tokens_per_s["plain"]["median"], 4),
        "paired_ratio_median": round(statistics.median(paired), 4),
        # tokens per second of process CPU time: less sensitive to other jobs taking the cores
        "tokens_per_cpu_s_median": {kind: round(cpu_rates[kind], 1) for kind in MODELS},
        "cpu_time_ratio": round(cpu_rates["vae"] / cpu_rates["plain"], 4),
        "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        # 1/5/15-minute load averages before and after the timed part: above cpu_count, other jobs competed
        "load_average": {"before": load_before, "after": _load()},
    }
    del trainers
    if not args.no_memory:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "tokenizer.json")
            tokenizer.save(path)
            result["peak_memory"] = measure_memory(argv, path)

    out = Path(args.out)
    with atomic_file(out) as stream:
        stream.write(json.dumps(result, indent=2) + "\n")
    with atomic_file(out.with_suffix(".md")) as stream:
        stream.write(markdown(result, result["command"]))
    print_table(result)
    print(f"wrote {out} and {out.with_suffix('.md').name}")
    print(f"vae_vs_plain_tokens_per_s_ratio={result['ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
