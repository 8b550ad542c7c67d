"""The training config file: every hyperparameter of a run, in one TOML file.

Sections: ``[data]`` (DataConfig), ``[model]`` (latentedit.VAEConfig; vocab_size comes from the
tokenizer), ``[training]`` (TrainingConfig). ``--set section.key=value`` overrides on the
command line.

>>> cfg = TrainConfig.from_dict({"data": {"train": "x.txt"}, "training": {"steps": 10}})
>>> cfg.training.steps, cfg.model.regularizer
(10, 'mmd')
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from latentedit.config import VAEConfig, unknown_keys
from latentedit.errors import ConfigError
from latentedit.tokenizer import MAX_VOCAB_SIZE
from latentedit.validation import check_bool, check_choice, check_int, check_number, check_path, check_str

BETA_SCHEDULES = ("constant", "cyclical")
PRECISIONS = ("no", "bf16", "fp16")


@dataclass(frozen=True)
class DataConfig:
    train: str = ""  # text file (one example per line) or CSV/TSV/JSONL with `column`
    column: str | None = None
    valid: str = ""  # held-out file; when empty, valid_fraction of `train` is held out
    valid_fraction: float = 0.05
    max_examples: int = 0  # 0 = all
    vocab_size: int = 8192  # of the byte-level BPE trained on the training split

    def __post_init__(self) -> None:
        if not isinstance(self.train, str) or not self.train:
            raise ConfigError("data.train must name a training file")
        if self.column is not None:
            check_str("data.column", self.column, ConfigError)
        check_str("data.valid", self.valid, ConfigError)
        check_number("data.valid_fraction", self.valid_fraction, 0.0, 1.0, open_max=True, error=ConfigError)
        check_int("data.max_examples", self.max_examples, minimum=0, error=ConfigError)
        check_int("data.vocab_size", self.vocab_size, minimum=300, maximum=MAX_VOCAB_SIZE, error=ConfigError)


@dataclass(frozen=True)
class TrainingConfig:
    output_dir: str = "runs/latentedit"
    init_t5: str = ""  # optional local Hugging Face T5 folder whose encoder/decoder stacks start the model
    init_from: str = ""  # optional latentedit model folder (same [model] config) to continue with a new schedule
    seed: int = 0
    batch_size: int = 64  # global batch, split evenly across processes
    steps: int = 1000
    lr: float = 1e-3
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decay to lr * min_lr_ratio
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mdr_lr: float = 0.01  # learning rate of the minimum-desired-rate multiplier
    beta_schedule: str = "constant"
    beta_cycles: int = 4
    beta_ratio: float = 0.5
    mixed_precision: str = "no"
    length_bucketing: bool = True
    log_every: int = 10
    eval_every: int = 200
    eval_examples: int = 500
    checkpoint_every: int = 200
    # Stop after this many minutes of training (0: no limit), at a log_every boundary, and save the
    # model; the cosine decay then runs on the larger of the steps' and the minutes' progress, so a
    # run that stops on time ends decayed. For machines lent for a fixed time (README: "Training on
    # a lent GPU"). Where it stops depends on the machine's speed: such a run is not bit-reproducible.
    max_minutes: float = 0.0
    # Parameter-name prefixes whose weights stay as they start (e.g. ["shared", "decoder", "to_memory",
    # "to_embedding"]: train the encoder alone against a fixed decoder); usually with init_from.
    freeze: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.output_dir, str) or not self.output_dir:
            raise ConfigError("training.output_dir must name a folder")
        if not isinstance(self.freeze, list) or not all(isinstance(x, str) and x for x in self.freeze):
            raise ConfigError(f"training.freeze must be a list of parameter-name prefixes, got {self.freeze!r}")
        check_str("training.init_t5", self.init_t5, ConfigError)
        check_str("training.init_from", self.init_from, ConfigError)
        if self.init_t5 and self.init_from:
            raise ConfigError("set at most one of training.init_t5 and training.init_from")
        for name in ("batch_size", "steps", "log_every", "eval_every", "eval_examples", "checkpoint_every", "beta_cycles"):
            check_int(f"training.{name}", getattr(self, name), minimum=1, error=ConfigError)
        check_int("training.warmup_steps", self.warmup_steps, minimum=0, error=ConfigError)
        check_number("training.max_minutes", self.max_minutes, minimum=0.0, error=ConfigError)
        check_int("training.seed", self.seed, minimum=0, maximum=2**32 - 1, error=ConfigError)  # numpy's seed range
        for name in ("lr", "mdr_lr"):
            check_number(f"training.{name}", getattr(self, name), minimum=0.0, open_min=True, error=ConfigError)
        for name in ("weight_decay", "grad_clip", "min_lr_ratio", "beta_ratio"):
            check_number(f"training.{name}", getattr(self, name), minimum=0.0, error=ConfigError)
        check_choice("training.beta_schedule", self.beta_schedule, BETA_SCHEDULES, ConfigError)
        check_choice("training.mixed_precision", self.mixed_precision, PRECISIONS, ConfigError)
        check_bool("training.length_bucketing", self.length_bucketing, ConfigError)


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    model: VAEConfig = field(default_factory=VAEConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        if not isinstance(values, dict):
            raise ConfigError(f"a training config must be a mapping of sections, got {type(values).__name__}")
        unknown = sorted(set(values) - {"data", "model", "training"}, key=repr)  # keys of any type: sorted by repr
        if unknown:
            raise ConfigError(f"unknown config sections {unknown}; use [data], [model] and [training]")
        return cls(
            data=_build(DataConfig, values.get("data", {}), "data"),
            model=VAEConfig.from_dict(values.get("model", {})),
            training=_build(TrainingConfig, values.get("training", {}), "training"),
        )

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] = ()) -> "TrainConfig":
        """Read a TOML config and apply ``section.key=value`` overrides (values parsed as TOML)."""
        path = check_path("config path", path, ConfigError)
        if isinstance(overrides, str) or not isinstance(overrides, (list, tuple)):
            raise ConfigError(f"overrides must be a list of 'section.key=value' strings, got {type(overrides).__name__}")
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path} is not valid TOML: {error}") from None
        for override in overrides:
            key, sep, raw = check_str("an override", override, ConfigError).partition("=")
            section, dot, name = key.strip().partition(".")
            if not sep or not dot:
                raise ConfigError(f"override {override!r} must look like section.key=value")
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw  # a bare word: take it as a string
            table = values.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"override {override!r}: {section!r} is not a [section] in the config file")
            table[name] = value
        return cls.from_dict(values)

    def replace_section(self, section: str, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})

    def to_dict(self) -> dict[str, Any]:
        return {"data": dataclasses.asdict(self.data), "model": self.model.to_dict(),
                "training": dataclasses.asdict(self.training)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _build(cls, values: dict[str, Any], section: str):
    if not isinstance(values, dict):
        raise ConfigError(f"[{section}] must be a table")
    unknown, known = unknown_keys(cls, values)
    if unknown:
        raise ConfigError(f"unknown keys {unknown} in [{section}]; known keys: {known}")
    return cls(**values)

