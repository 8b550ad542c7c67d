"""Semantic directions in the flat latent space: z' = z + strength * vector.

Learned from two sets of codes (``"mean"``: the difference of their means; ``"probe"``: the
normal of a logistic-regression probe, scaled so that strength 1 moves the average negative
code as far along it as the mean difference does; ``"paired"``: the mean of each negative
code's difference to its nearest positive code (content-matched pairs found in the latent
space), as long as the mean difference so that strengths mean the same) or from a numeric
property (the ridge regression direction, scaled to move one standard deviation of the property).
Saved in the model folder as ``directions/<name>.safetensors`` + ``directions/<name>.json``.

>>> import torch
>>> neg, pos = torch.randn(50, 4), torch.randn(50, 4) + torch.tensor([2.0, 0, 0, 0])
>>> d = learn_direction("x", pos, neg)
>>> round(float(d.vector[0]), 0)
2.0
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import InputError, ModelFolderError
from .heads import check_name
from .validation import check_choice, check_int, check_str

METHODS = ("mean", "probe", "paired", "property")
PAIR_METHODS = ("mean", "probe", "paired")  # the methods that learn from two sets of codes


@dataclass
class Direction:
    name: str
    vector: torch.Tensor  # (D,): strength 1 adds this to a code
    method: str
    positive_examples: int = 0
    negative_examples: int = 0
    description: str = ""
    head: str = ""  # a head whose verdict tells when a shift has arrived (for strength="auto")
    target: str = ""  # the head's label (or "max"/"min") this direction moves towards

    def describe(self) -> dict:
        return {"name": self.name, "method": self.method, "norm": round(float(self.vector.norm()), 4),
                "positive_examples": self.positive_examples, "negative_examples": self.negative_examples,
                "description": self.description, "head": self.head, "target": self.target}


def learn_direction(name: str, positive: torch.Tensor, negative: torch.Tensor, method: str = "mean",
                    description: str = "", groups: tuple[Sequence, Sequence] | None = None) -> Direction:
    """A direction pointing from the ``negative`` codes (N, D) towards the ``positive`` codes (M, D).

    ``groups`` = (a label per positive code, a label per negative code), with method "mean": the
    mean differences within each group (genre, say), averaged with each group's negative count as
    its weight, as long as the plain mean difference. What separates the groups cancels out, so
    a confound of the two sets (formal texts mostly news, informal ones mostly answers) does not
    become part of the direction. Groups with fewer than two codes on a side are left out.

    >>> pos = torch.tensor([[1.0, 0], [1, 0], [1, 8], [1, 8], [1, 8], [1, 8]])  # mostly group b
    >>> neg = torch.tensor([[0.0, 0], [0, 0], [0, 0], [0, 0], [0, 8], [0, 8]])  # mostly group a
    >>> learn_direction("x", pos, neg).vector.tolist()  # b's offset leaks into the plain mean difference
    [1.0, 2.6666667461395264]
    >>> [round(x, 2) for x in learn_direction("x", pos, neg, groups=("aabbbb", "aaaabb")).vector.tolist()]
    [2.85, 0.0]
    """
    check_name(name, "direction name")
    check_choice("method", method, PAIR_METHODS)
    positive, negative = torch.as_tensor(positive, dtype=torch.float32), torch.as_tensor(negative, dtype=torch.float32)
    if len(positive) < 2 or len(negative) < 2:
        raise InputError("need at least two positive and two negative texts to learn a direction")
    difference = positive.mean(0) - negative.mean(0)  # (D,)
    if groups is not None:
        if method != "mean":
            raise InputError(f"groups work with method 'mean' only, got method {method!r}")
        difference = grouped_difference(positive, negative, *groups) * difference.norm()
    if method == "mean":
        vector = difference
    elif method == "paired":
        paired = (nearest(negative, positive) - negative).mean(0)
        vector = paired / paired.norm().clamp(min=1e-12) * difference.norm()
    else:
        from sklearn.linear_model import LogisticRegression

        x = torch.cat([positive, negative]).numpy()
        y = [1] * len(positive) + [0] * len(negative)
        normal = torch.tensor(LogisticRegression(max_iter=2000).fit(x, y).coef_[0], dtype=torch.float32)
        unit = normal / normal.norm().clamp(min=1e-12)
        vector = unit * torch.dot(difference, unit)  # same progress along the normal as the mean shift
    return Direction(name, vector, method, len(positive), len(negative), description)


def grouped_difference(positive: torch.Tensor, negative: torch.Tensor, positive_groups: Sequence,
                       negative_groups: Sequence) -> torch.Tensor:
    """The unit vector (D,) of the negative-count-weighted mean of within-group mean differences."""
    if len(positive_groups) != len(positive) or len(negative_groups) != len(negative):
        raise InputError(f"groups need one label per text: got {len(positive_groups)} for {len(positive)} positive "
                         f"and {len(negative_groups)} for {len(negative)} negative texts")
    total = torch.zeros(positive.shape[1])
    for group in sorted(set(positive_groups) & set(negative_groups), key=str):
        pos = [i for i, label in enumerate(positive_groups) if label == group]
        neg = [i for i, label in enumerate(negative_groups) if label == group]
        if len(pos) >= 2 and len(neg) >= 2:
            total += len(neg) * (positive[pos].mean(0) - negative[neg].mean(0))
    if total.norm() < 1e-12:
        raise InputError("no group holds two or more texts of each set, or their differences cancel: no grouped direction")
    return total / total.norm()


def nearest(queries: torch.Tensor, pool: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """The pool row (M, D) closest (L2) to each query row (N, D): (N, D), in chunks of queries.

    >>> nearest(torch.tensor([[0.0], [9.0]]), torch.tensor([[1.0], [5.0], [8.0]])).flatten().tolist()
    [1.0, 8.0]
    """
    index = torch.cat([torch.cdist(part, pool).argmin(1) for part in queries.split(chunk)])
    return pool[index]


def property_direction(name: str, codes: torch.Tensor, values: torch.Tensor, alpha: float = 1.0,
                       description: str = "") -> Direction:
    """The ridge-regression direction of a numeric property; strength 1 = +1 standard deviation."""
    check_name(name, "direction name")
    codes = torch.as_tensor(codes, dtype=torch.float32)
    values = torch.as_tensor(values, dtype=torch.float32).flatten()
    if len(codes) < 4 or len(values) != len(codes) or not torch.isfinite(values).all():
        raise InputError("need at least 4 texts with one finite value each to learn a property direction")
    from sklearn.linear_model import Ridge

    weights = torch.tensor(Ridge(alpha=alpha).fit(codes.numpy(), values.numpy()).coef_, dtype=torch.float32)
    if weights.norm() < 1e-12:
        raise InputError("the property does not vary linearly with the codes: no direction found")
    # moving by vector changes the predicted value by std: w . v = std with v parallel to w
    vector = weights * float(values.std()) / weights.pow(2).sum()
    return Direction(name, vector, "property", len(codes), 0, description)


def save_direction(direction: Direction, folder: Path) -> None:
    check_name(direction.name, "direction name")
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"vector": direction.vector.detach().cpu().contiguous()}, str(folder / f"{direction.name}.safetensors"))
    meta = {k: v for k, v in asdict(direction).items() if k != "vector"}
    (folder / f"{direction.name}.json").write_text(json.dumps(meta, indent=2) + "\n")


def load_direction(folder: Path, name: str, code_size: int) -> Direction:
    check_name(name, "direction name")
    try:
        meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ModelFolderError(f"{folder / f'{name}.json'} holds {type(meta).__name__}, not a direction object")
        vector = load_file(str(folder / f"{name}.safetensors"))["vector"]
        direction = Direction(**{**meta, "vector": vector})
    except ModelFolderError:
        raise
    except (OSError, ValueError, TypeError, KeyError, SafetensorError) as error:
        raise ModelFolderError(f"cannot read direction {name!r} in {folder}: {error}") from None
    where = f"direction {name!r}:"
    for field in ("name", "description", "head", "target"):
        check_str(f"{where} {field}", getattr(direction, field), ModelFolderError)
    check_choice(f"{where} method", direction.method, METHODS, ModelFolderError)
    for field in ("positive_examples", "negative_examples"):
        check_int(f"{where} {field}", getattr(direction, field), error=ModelFolderError)
    vector = direction.vector
    if not vector.is_floating_point() or vector.shape != (code_size,) or not torch.isfinite(vector).all():
        raise ModelFolderError(f"direction {name!r} is not {code_size} finite numbers like the model's codes "
                               f"(shape {tuple(vector.shape)}, {vector.dtype})")
    direction.vector = vector.float()
    return direction
