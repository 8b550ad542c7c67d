"""Train a Transformer-VAE: one loop on accelerate, unchanged on a CPU, a GPU or several processes.

    python -m trainers.train trainers/configs/sample.toml
    python -m trainers.train trainers/configs/sample.toml --resume          # continue a killed run
    python -m trainers.train CONFIG --set training.steps=5000 --set model.latent_dim=32
    accelerate launch --multi_gpu --num_processes 2 -m trainers.train CONFIG   # data parallel (GPUs or CPU)

Writes into ``training.output_dir``: ``tokenizer.json``, ``metrics.jsonl`` (one JSON object per
log or evaluation), ``curves.png``, ``checkpoint/`` (every ``checkpoint_every`` steps) and the
final model folder ``model/``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from latentedit.cli import OneLineParser
from latentedit.data import read_texts
from latentedit.errors import ConfigError, LatentEditError
from latentedit.lexicon import LEXICON_FILE, Lexicon
from latentedit.metrics import reconstruction_report
from latentedit.model import TransformerVAE
from latentedit.model_folder import atomic_file, commit_folder, save_model
from latentedit.regularizers import cyclical_beta
from latentedit.tokenizer import EncodedBatch, Tokenizer

from .checkpoint import read_checkpoint, write_checkpoint, write_rng
from .config import TrainConfig
from .plots import plot_metrics


class Corpus:
    """Tokenised training and validation examples, and the deterministic batch order."""

    def __init__(self, train: EncodedBatch, valid: EncodedBatch, seed: int, batch_size: int, bucketing: bool):
        self.train, self.valid = train, valid
        self.lengths = train.mask.sum(1)  # (N,)
        self.seed, self.batch_size, self.bucketing = seed, batch_size, bucketing
        self.batches_per_epoch = len(self.lengths) // batch_size
        if self.batches_per_epoch == 0:
            raise ConfigError(f"training.batch_size {batch_size} exceeds the {len(self.lengths)} training examples")
        self._epoch, self._batches = -1, []

    def batch(self, step: int) -> torch.Tensor:
        """Indices of the global batch used at ``step``: a pure function of (seed, step)."""
        epoch, index = divmod(step, self.batches_per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self._epoch_batches(epoch)
        return self._batches[index]

    def _epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        if self.bucketing:  # sort within windows of 50 batches so that batches hold similar lengths
            window = self.batch_size * 50
            chunks = [order[i : i + window] for i in range(0, len(order), window)]
            order = torch.cat([c[self.lengths[c].argsort(stable=True)] for c in chunks])
        size = self.batch_size
        batches = [order[i : i + size] for i in range(0, self.batches_per_epoch * size, size)]
        shuffle = torch.randperm(len(batches), generator=generator)
        return [batches[i] for i in shuffle]


def load_corpus(config: TrainConfig, tokenizer_path: Path, accelerator: Accelerator) -> tuple[Tokenizer, Corpus, dict]:
    data, training = config.data, config.training
    texts = read_texts(data.train, data.column)
    if data.max_examples:
        texts = texts[: data.max_examples]
    if data.valid:
        valid_texts = read_texts(data.valid, data.column)
    else:
        order = list(range(len(texts)))
        random.Random(training.seed).shuffle(order)
        held = max(1, int(len(texts) * data.valid_fraction)) if data.valid_fraction > 0 and len(texts) > 1 else 0
        valid_texts = [texts[i] for i in order[:held]]
        texts = [texts[i] for i in sorted(order[held:])]
    if not texts:
        raise ConfigError(f"{data.train} holds no training examples")
    if not valid_texts:
        valid_texts = texts[: min(len(texts), training.eval_examples)]
    if accelerator.is_main_process and not tokenizer_path.exists():
        tokenizer = Tokenizer.train(texts, vocab_size=data.vocab_size)
        with atomic_file(tokenizer_path) as stream:
            stream.write(tokenizer.to_json())
    accelerator.wait_for_everyone()
    tokenizer = Tokenizer.load(tokenizer_path)
    if accelerator.is_main_process:  # the words edits may write (latentedit/lexicon.py), shipped with the model
        Lexicon.from_texts(texts).save(tokenizer_path.parent / LEXICON_FILE)
    max_length = config.model.max_length
    train, valid = tokenizer.encode(texts, max_length), tokenizer.encode(valid_texts, max_length)
    stats = {"train_examples": len(texts), "valid_examples": len(valid_texts),
             "train_truncated": train.truncated, "valid_truncated": valid.truncated, "max_length": max_length}
    corpus = Corpus(train, valid, training.seed, training.batch_size, training.length_bucketing)
    return tokenizer, corpus, stats


TRAINING_NOISE = ("dropout", "word_dropout", "input_deletion", "latent_noise")  # no weights depend on these


def continue_from(model: TransformerVAE, folder: Path, config: TrainConfig) -> None:
    """Load a finished model folder's weights into ``model``; its [model] config must match this run's,
    except that a continued run may change the training-time noise (TRAINING_NOISE) and add the
    bag-of-words loss (its new layer starts fresh)."""
    source = TransformerVAE.from_pretrained(folder)
    changed = sorted(k for k, v in vars(source.config).items()
                     if getattr(model.config, k) != v and k not in TRAINING_NOISE)
    if changed and not (changed == ["bag_of_words"] and source.config.bag_of_words == 0):
        raise ConfigError(f"training.init_from {folder}: its model config differs in {changed}; "
                          "continue with the same [model] section (it may only add bag_of_words "
                          f"and change {', '.join(TRAINING_NOISE)})")
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not key.startswith("to_bag.") for key in missing):
        raise ConfigError(f"training.init_from {folder}: its weights do not fit this model "
                          f"(missing {missing}, unexpected {unexpected})")


def training_minutes(*stages: Path) -> int | None:
    """Wall-clock minutes of the training runs that wrote the model folders ``stages`` (a model and
    the earlier models it continued from), each from its run's tokenizer, written as training
    starts, to its saved weights (``None`` when a run folder is not beside its model)."""
    total = 0.0
    for model in stages:
        start, end = model.parent / "tokenizer.json", model / "model.safetensors"
        if not (start.exists() and end.exists()):
            return None
        total += end.stat().st_mtime - start.stat().st_mtime
    return round(total / 60)


def learning_rate_factor(step: int, config: TrainConfig, time_used: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio; ``time_used``: the share of
    training.max_minutes spent, when the run has a time limit (the decay follows whichever of
    steps and time is further on)."""
    t = config.training
    if step < t.warmup_steps:
        return (step + 1) / t.warmup_steps
    progress = max((step - t.warmup_steps) / max(1, t.steps - t.warmup_steps), time_used)
    return t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def parameter_groups(model: TransformerVAE, config: TrainConfig) -> list[dict]:
    t = config.training
    decay, no_decay, multiplier = [], [], []
    frozen = tuple(f"{prefix}." if not prefix.endswith(".") else prefix for prefix in t.freeze)
    unknown = [p for p in frozen if not any(name.startswith(p) for name, _ in model.named_parameters())]
    if unknown:
        raise ConfigError(f"training.freeze: no parameter names start with {unknown}")
    for name, parameter in model.named_parameters():
        if name.startswith(frozen):
            parameter.requires_grad_(False)
        elif name.startswith("mdr."):
            multiplier.append(parameter)
        elif parameter.ndim >= 2 and "embed" not in name and "shared" not in name:
            decay.append(parameter)
        else:
            no_decay.append(parameter)
    groups = [{"params": decay, "weight_decay": t.weight_decay, "base_lr": t.lr},
              {"params": no_decay, "weight_decay": 0.0, "base_lr": t.lr}]
    if multiplier:
        groups.append({"params": multiplier, "weight_decay": 0.0, "base_lr": t.mdr_lr})
    return groups


def check_resumable(saved: dict, config: TrainConfig) -> None:
    """Everything but training.steps and training.max_minutes must match the checkpoint's run."""
    current = json.loads(config.to_json())
    budget = ("steps", "max_minutes")  # how long a run goes may change, nothing else
    saved_training = {k: v for k, v in saved["training"].items() if k not in budget}
    current_training = {k: v for k, v in current["training"].items() if k not in budget}
    for section, old, new in (("data", saved["data"], current["data"]), ("model", saved["model"], current["model"]),
                              ("training", saved_training, current_training)):
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            raise ConfigError(f"cannot resume: [{section}] {changed} differ from the checkpoint's run "
                              "(only training.steps and training.max_minutes may change); use a new output_dir "
                              "for a new run")


class MetricsLog:
    """Append-only JSONL log (main process); on resume, entries after the checkpoint are dropped."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        if resume_step is not None and path.exists():
            kept = [line for line in path.read_text().splitlines() if json.loads(line).get("step", 0) <= resume_step]
            with atomic_file(path) as stream:
                stream.write("".join(line + "\n" for line in kept))
        elif path.exists():
            path.unlink()

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")


def save_checkpoint(accelerator: Accelerator, model, optimizer, step: int, config: TrainConfig, out: Path) -> None:
    staging = out / ".checkpoint.saving"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        write_checkpoint(staging, accelerator.unwrap_model(model).tensors_to_save(), optimizer.state_dict(), step,
                         config.to_json())
    accelerator.wait_for_everyone()
    write_rng(staging, accelerator.process_index)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        commit_folder(staging, out / "checkpoint")
    accelerator.wait_for_everyone()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX, as oneDNN reports it)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)  # private: assume yes if it goes away
    return True if check is None else bool(check())


def effective_precision(requested: str) -> str:
    """The mixed precision to train in: ``requested``, except that bf16 on a CPU without native bf16
    falls back to fp32 ("no"), with a warning. There torch emulates bf16 matrix products: a training
    step of the default model took 11x as long as in fp32 on an AVX2-only CPU
    (benchmarks/results/precision_speed.md)."""
    if requested != "bf16" or torch.cuda.is_available() or cpu_has_native_bf16():
        return requested
    print("warning: training.mixed_precision = \"bf16\" but this CPU has no native bf16 (AVX512-BF16 or AMX), "
          "where bf16 runs many times slower than fp32; training in fp32 instead", file=sys.stderr)
    return "no"


def train(config: TrainConfig, resume: bool = False, show_progress: bool = True) -> Path:
    """Run training; returns the final model folder ``<output_dir>/model``."""
    t = config.training
    out = Path(t.output_dir)
    # several processes without a GPU: accelerate only picks its gloo (multi-CPU) backend when told cpu=True
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    precision = effective_precision(t.mixed_precision)
    accelerator = Accelerator(mixed_precision=precision, cpu=multi_cpu)
    world, rank = accelerator.num_processes, accelerator.process_index
    if t.batch_size % world:
        raise ConfigError(f"training.batch_size {t.batch_size} must be divisible by the {world} processes")
    checkpoint_dir = out / "checkpoint"
    if resume and not (checkpoint_dir / "state.json").exists():
        raise ConfigError(f"nothing to resume: {checkpoint_dir} holds no checkpoint")
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            for stale in ("tokenizer.json", "checkpoint", "model"):
                path = out / stale
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            if t.init_from:  # the continued model keeps its tokenizer
                shutil.copyfile(Path(t.init_from) / "tokenizer.json", out / "tokenizer.json")
    accelerator.wait_for_everyone()

    set_seed(t.seed)
    tokenizer, corpus, stats = load_corpus(config, out / "tokenizer.json", accelerator)
    model = TransformerVAE(config.model.replace(vocab_size=tokenizer.vocab_size))
    model.tokenizer = tokenizer
    if config.training.init_t5 and not resume:
        copied = model.load_t5_backbone(config.training.init_t5)
        accelerator.print(f"initialised {len(copied)} tensors from the T5 checkpoint in {config.training.init_t5}")
    if t.init_from and not resume:
        continue_from(model, Path(t.init_from), config)
        accelerator.print(f"continuing from the model in {t.init_from}")
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=t.lr)
    start = 0
    if resume:
        model_state, optimizer_state, start, saved_config = read_checkpoint(checkpoint_dir, rank)
        check_resumable(saved_config, config)
        model.load_saved_tensors(model_state, source=str(checkpoint_dir))
        optimizer.load_state_dict(optimizer_state)
    model, optimizer = accelerator.prepare(model, optimizer)
    log = MetricsLog(out / "metrics.jsonl", start if resume else None) if accelerator.is_main_process else None
    if log and not resume:
        log.write({"event": "data", "step": 0, **stats, "mixed_precision": precision,
                   "parameters": sum(p.numel() for p in model.parameters()), "processes": world})
    accelerator.print(
        f"training on {stats['train_examples']} examples ({stats['train_truncated']} truncated to "
        f"{stats['max_length']} tokens), validating on {stats['valid_examples']}; {world} process(es), "
        f"device {accelerator.device}, steps {start}->{t.steps}"
    )

    progress = _progress(show_progress and accelerator.is_main_process)
    task = progress.add_task("training", total=t.steps, completed=start, loss=float("nan"), rate=float("nan"),
                             acc=float("nan"))
    sums: dict[str, torch.Tensor] = {}  # summed on the device: no host sync per step
    count = tokens = 0
    started = began = time.perf_counter()
    time_used = 0.0  # share of max_minutes spent, agreed across processes at each log
    with progress:
        for step in range(start, t.steps):
            local = corpus.batch(step)[rank::world]
            mask = corpus.train.mask[local]
            width = int(mask.sum(1).max())
            tokens += int(mask.sum())
            ids, mask = corpus.train.ids[local, :width].to(accelerator.device), mask[:, :width].to(accelerator.device)
            factor = learning_rate_factor(step, config, time_used)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            beta = None if t.beta_schedule == "constant" else config.model.beta * cyclical_beta(
                step, t.steps, t.beta_cycles, t.beta_ratio)
            model.train()
            with accelerator.autocast():
                output = model(ids, mask, beta=beta)
            accelerator.backward(output.loss)
            if t.grad_clip > 0:
                accelerator.clip_grad_norm_(model.parameters(), t.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            for name in ("loss", "reconstruction", "rate", "mmd", "multiplier", "bag_of_words", "token_accuracy"):
                sums[name] = sums.get(name, 0.0) + getattr(output, name).detach().float()
            count += 1
            done = step + 1
            out_of_time = False
            if done % t.log_every == 0 or done == t.steps:
                keys = sorted(sums)
                totals = torch.stack([sums[k] for k in keys] + [torch.tensor(float(count), device=accelerator.device)])
                reduced = accelerator.reduce(totals, "mean").tolist()
                means = {k: v / reduced[-1] for k, v in zip(keys, reduced)}
                if t.max_minutes:  # the slowest process decides, so that all keep one schedule
                    spent = (time.perf_counter() - began) / 60 / t.max_minutes
                    time_used = float(accelerator.gather(torch.tensor([spent], device=accelerator.device)).max())
                    out_of_time = time_used >= 1.0
                elapsed = time.perf_counter() - started
                record = {"split": "train", "step": done, **means, "lr": t.lr * factor,
                          "beta": config.model.beta if beta is None else beta,
                          "tokens_per_s": tokens * world / max(elapsed, 1e-9)}
                if log:
                    log.write(record)
                progress.update(task, completed=done, loss=means["loss"], rate=means["rate"], acc=means["token_accuracy"])
                sums, count, tokens, started = {}, 0, 0, time.perf_counter()
            last = done == t.steps or out_of_time
            if done % t.eval_every == 0 or last:
                if accelerator.is_main_process:
                    valid = corpus.valid
                    report = reconstruction_report(accelerator.unwrap_model(model), valid.ids[: t.eval_examples],
                                                   valid.mask[: t.eval_examples])
                    log.write({"split": "valid", "step": done, **report.to_dict()})
                    progress.console.print(
                        f"step {done}: valid token acc {report.teacher_forced_accuracy:.3f}, greedy exact "
                        f"{report.greedy_exact_match:.3f}, rate {report.rate:.2f}, active units "
                        f"{report.active_units}/{report.code_size}")
                accelerator.wait_for_everyone()
            if done % t.checkpoint_every == 0 or last:
                save_checkpoint(accelerator, model, optimizer, done, config, out)
            if out_of_time:
                accelerator.print(f"training.max_minutes ({t.max_minutes:g}) reached: stopping at step {done}")
                break

    final = out / "model"
    if accelerator.is_main_process:
        lexicon = out / LEXICON_FILE
        save_model(accelerator.unwrap_model(model), final,
                   write_extra=lambda staging: shutil.copyfile(lexicon, staging / lexicon.name))
        plot_metrics(out / "metrics.jsonl", out / "curves.png")
    accelerator.wait_for_everyone()
    return final


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.2f}  rate {task.fields[rate]:.2f}  acc {task.fields[acc]:.1%}"),
        TimeRemainingColumn(), disable=not enabled,
    )


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = OneLineParser(prog=prog, description="Train a latentedit Transformer-VAE from a TOML config.")
    parser.add_argument("config", help="TOML file with [data], [model] and [training] sections")
    parser.add_argument("--resume", action="store_true", help="continue from <output_dir>/checkpoint")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still written)")
    args = parser.parse_args(argv)
    try:
        config = TrainConfig.load(args.config, args.set)
        final = train(config, resume=args.resume, show_progress=not args.no_progress)
    except LatentEditError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"model saved to {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
