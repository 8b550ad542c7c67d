"""Property heads: small models on flat latent codes that predict a property of the text.

A head is a linear layer or an MLP (``hidden`` units in each of ``layers`` hidden layers), for
regression (a number) or classification (one of several labels). It is fitted on the codes of
labelled texts, reports its held-out R2 or accuracy, and is saved in the model folder as
``heads/<name>/``.

>>> import torch
>>> codes = torch.randn(200, 8)
>>> head = fit_head("x0", codes, values=codes[:, 0] * 3 + 1, seed=0)
>>> head.config.metric_name, head.config.metric_value > 0.9
('r2', True)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import InputError, ModelFolderError
from .validation import check_choice, check_int, check_number, check_numbers, check_seed, check_str, check_text

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KINDS = ("regression", "classification")
MAX_HIDDEN = 65536  # hidden units of an MLP head; more is absurd for codes of a few hundred numbers
MAX_LAYERS = 8  # hidden layers of an MLP head


def check_name(name: object, what: str = "name") -> str:
    """Head and direction names become folder/file names: refuse anything that could escape."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise InputError(f"{what} {name!r} is not allowed: use 1-64 letters, digits, '_', '-' or '.', "
                         "starting with a letter or digit (no paths)")
    return name


@dataclass(frozen=True)
class HeadConfig:
    name: str
    kind: str  # "regression" | "classification"
    code_size: int
    hidden: int = 0  # 0 = linear head
    layers: int = 1  # hidden layers of an MLP head (each ``hidden`` wide)
    labels: tuple[str, ...] = ()  # classification: label of each output
    value_mean: float = 0.0  # regression targets are standardised for training
    value_std: float = 1.0
    metric_name: str = ""  # "r2" or "accuracy", on the held-out part
    metric_value: float = float("nan")
    train_examples: int = 0
    heldout_examples: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        """Checks what a config.json read from disk may hold (fit_head checks its arguments itself)."""
        check_name(self.name, "head name")
        field = f"head {self.name}:"
        check_choice(f"{field} kind", self.kind, KINDS, ModelFolderError)
        if not isinstance(self.labels, tuple) or not all(isinstance(label, str) for label in self.labels):
            raise ModelFolderError(f"{field} labels must be a list of strings")
        if self.kind == "classification" and len(self.labels) < 2:
            raise ModelFolderError(f"{field} a classification head needs at least two labels")
        check_int(f"{field} code_size", self.code_size, minimum=1, error=ModelFolderError)
        check_int(f"{field} hidden", self.hidden, minimum=0, maximum=MAX_HIDDEN, error=ModelFolderError)
        check_int(f"{field} layers", self.layers, minimum=1, maximum=MAX_LAYERS, error=ModelFolderError)
        check_number(f"{field} value_mean", self.value_mean, error=ModelFolderError)
        check_number(f"{field} value_std", self.value_std, minimum=0.0, open_min=True, error=ModelFolderError)
        if isinstance(self.metric_value, bool) or not isinstance(self.metric_value, (int, float)):  # NaN: not measured
            raise ModelFolderError(f"{field} metric_value must be a number, got {type(self.metric_value).__name__}")
        check_int(f"{field} train_examples", self.train_examples, error=ModelFolderError)
        check_int(f"{field} heldout_examples", self.heldout_examples, error=ModelFolderError)
        check_str(f"{field} metric_name", self.metric_name, ModelFolderError)
        check_str(f"{field} description", self.description, ModelFolderError)


class PropertyHead(nn.Module):
    """codes (N, D) -> predictions: values (N,) for regression, logits (N, C) for classification."""

    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        outputs = len(config.labels) if config.kind == "classification" else 1
        if config.hidden:
            widths = [config.code_size] + [config.hidden] * config.layers
            blocks = [module for a, b in zip(widths, widths[1:]) for module in (nn.Linear(a, b), nn.GELU())]
            self.net = nn.Sequential(*blocks, nn.Linear(config.hidden, outputs))
        else:
            self.net = nn.Linear(config.code_size, outputs)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        out = self.net(codes)
        if self.config.kind == "regression":
            return out.squeeze(-1) * self.config.value_std + self.config.value_mean  # (N,)
        return out  # (N, C)

    def label_index(self, label: str) -> int:
        if label not in self.config.labels:
            raise InputError(f"head {self.config.name!r} has labels {list(self.config.labels)}, not {label!r}")
        return self.config.labels.index(label)

    def report(self) -> dict:
        """What the fit measured: name, kind, the held-out metric and the example counts."""
        c = self.config
        return {"head": c.name, "kind": c.kind, c.metric_name: c.metric_value,
                "train_examples": c.train_examples, "heldout_examples": c.heldout_examples}

    @torch.no_grad()
    def predict(self, codes: torch.Tensor) -> list:
        """Plain predictions: floats (regression) or labels (classification)."""
        out = self(codes)
        if self.config.kind == "regression":
            return out.tolist()
        return [self.config.labels[i] for i in out.argmax(-1).tolist()]


def fit_head(
    name: str,
    codes: torch.Tensor,
    values: Sequence[float] | torch.Tensor | None = None,
    labels: Sequence | None = None,
    kind: str | None = None,
    hidden: int = 0,
    heldout_fraction: float = 0.2,
    weight_decay: float = 1e-3,
    epochs: int | None = None,
    seed: int = 0,
    description: str = "",
    layers: int = 1,
    batch_size: int = 0,
) -> PropertyHead:
    """Fit a head on codes (N, D) with Adam and measure it on a held-out split.

    Give ``values`` (regression) or ``labels`` (classification). The held-out split (stratified
    by label for classification) is used once, for the reported metric; the returned head is then
    refitted on all examples. ``batch_size=0`` takes full-batch Adam steps at a constant learning
    rate (``epochs`` steps, default 300); ``batch_size=B`` takes AdamW steps (decoupled weight
    decay) on shuffled minibatches of B, with a learning rate that decays to zero over ``epochs``
    passes (default 10): a deep MLP on a large set needs the many steps.
    """
    check_name(name, "head name")
    heldout_fraction = check_number("heldout_fraction", heldout_fraction, 0.0, 1.0, open_max=True)
    hidden = check_int("hidden", hidden, minimum=0, maximum=MAX_HIDDEN)
    layers = check_int("layers", layers, minimum=1, maximum=MAX_LAYERS)
    batch_size = check_int("batch_size", batch_size, minimum=0)
    epochs = check_int("epochs", (10 if batch_size else 300) if epochs is None else epochs, minimum=1)
    seed = check_seed(seed)
    description = check_text(description, "description", allow_empty=True)
    if (values is None) == (labels is None):
        raise InputError("give exactly one of values= (regression) or labels= (classification)")
    if labels is not None and not isinstance(labels, (list, tuple)):
        raise InputError(f"labels must be a list (one label per text), got {type(labels).__name__}")
    if kind is None:
        kind = "regression" if values is not None else "classification"
    check_choice("kind", kind, KINDS)
    if (kind == "regression") != (values is not None):
        raise InputError(f"kind {kind!r} does not fit the targets: use values= for regression, labels= for classification")
    codes = torch.as_tensor(codes, dtype=torch.float32)
    n = codes.shape[0]
    if codes.ndim != 2 or n < 4:
        raise InputError(f"need at least 4 examples to fit a head, got {n}")
    if not torch.isfinite(codes).all():
        raise InputError("codes must be finite (found NaN or inf)")
    generator = torch.Generator().manual_seed(seed)
    if kind == "regression":
        target = check_numbers("values", values, hint=" (regression); use labels= for categories")
        if target.shape[0] != n:
            raise InputError(f"{target.shape[0]} values for {n} texts")
        if not torch.isfinite(target).all():
            raise InputError("values must be finite numbers (found NaN or inf)")
        names: tuple[str, ...] = ()
        order = torch.randperm(n, generator=generator)
    else:
        labels = [str(label) for label in labels]
        if len(labels) != n:
            raise InputError(f"{len(labels)} labels for {n} texts")
        names = tuple(sorted(set(labels)))
        if len(names) < 2:
            raise InputError(f"a classification head needs at least two distinct labels, got {list(names)}")
        target = torch.tensor([names.index(label) for label in labels])
        order = _stratified_order(target, generator)
    held = max(1, int(round(n * heldout_fraction))) if heldout_fraction > 0 else 0
    if n - held < 2:
        raise InputError(f"only {n - held} examples left to fit on after holding out {held}; give more texts")
    test_idx, train_idx = order[:held], order[held:]

    def train_on(index: torch.Tensor) -> PropertyHead:
        mean = float(target[index].mean()) if kind == "regression" else 0.0
        std = float(target[index].std()) if kind == "regression" and len(index) > 1 else 1.0
        config = HeadConfig(name=name, kind=kind, code_size=codes.shape[1], hidden=hidden, layers=layers, labels=names,
                            value_mean=mean, value_std=std if std > 1e-8 else 1.0)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
            torch.manual_seed(seed)
            head = PropertyHead(config)
        x, y = codes[index], target[index]
        if kind == "regression":
            y = (y - config.value_mean) / config.value_std
        if batch_size:
            optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=weight_decay)
            steps = epochs * -(-len(index) // batch_size)
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
            batches = [order[start : start + batch_size] for _ in range(epochs)
                       for order in [torch.randperm(len(index), generator=generator)]
                       for start in range(0, len(index), batch_size)]
        else:
            optimizer, schedule = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=weight_decay), None
            batches = [slice(None)] * epochs
        for batch in batches:
            optimizer.zero_grad()
            out = head.net(x[batch])
            if kind == "regression":
                loss = F.mse_loss(out.squeeze(-1), y[batch])
            else:
                loss = F.cross_entropy(out, y[batch])
            loss.backward()
            optimizer.step()
            if schedule:
                schedule.step()
        return head.eval()

    metric_name, metric = ("r2" if kind == "regression" else "accuracy"), float("nan")
    if held:
        probe = train_on(train_idx)
        with torch.no_grad():
            predicted = probe(codes[test_idx])
        if kind == "regression":
            truth = target[test_idx]
            residual = ((truth - predicted) ** 2).sum()
            total = ((truth - truth.mean()) ** 2).sum()
            metric = float(1 - residual / total) if total > 0 else float("nan")
        else:
            metric = float((predicted.argmax(-1) == target[test_idx]).float().mean())
    head = train_on(torch.arange(n))
    head.config = HeadConfig(**{**asdict(head.config), "labels": names, "metric_name": metric_name,
                                "metric_value": metric, "train_examples": n - held, "heldout_examples": held,
                                "description": description})
    return head


def _stratified_order(target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A permutation whose every prefix holds the classes in their overall proportions."""
    keys = torch.empty(len(target))
    for label in target.unique():
        members = (target == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        keys[members] = (torch.arange(len(members)) + 0.5) / len(members)
    return keys.argsort(stable=True)


def save_head(head: PropertyHead, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}, str(folder / "model.safetensors"))
    config = asdict(head.config)
    config["labels"] = list(config["labels"])
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def load_head(folder: Path, code_size: int) -> PropertyHead:
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ModelFolderError(f"{folder / 'config.json'} holds {type(raw).__name__}, not a head config object")
        raw["labels"] = tuple(raw.get("labels", ()))
        config = HeadConfig(**raw)
        state = load_file(str(folder / "model.safetensors"))
    except ModelFolderError:
        raise
    except (OSError, ValueError, TypeError, SafetensorError) as error:
        raise ModelFolderError(f"cannot read the head in {folder}: {error}") from None
    if config.code_size != code_size:
        raise ModelFolderError(f"head {config.name} expects codes of size {config.code_size}, the model makes {code_size}")
    head = PropertyHead(config)
    try:
        head.load_state_dict(state)
    except RuntimeError as error:
        raise ModelFolderError(f"head weights in {folder} do not match its config: {error}") from None
    return head.eval()
