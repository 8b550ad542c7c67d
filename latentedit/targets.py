"""What an ``optimize`` call aims for, and the loss that measures how far a code is from it.

``{"likes": "max"}``, ``{"formality": 2.0}``, ``{"sentiment": "positive"}``: each head gets a
goal (a number for regression heads, "max"/"min", or a label of a classification head) and a
weight. Regression losses are measured in units of the head's training standard deviation so
that heads on different scales can be mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import InputError
from .heads import PropertyHead
from .validation import check_number, shown


@dataclass
class Target:
    head: PropertyHead
    goal: float | str  # a number, "max", "min", or a label
    weight: float = 1.0
    min_gain: float = 0.0  # for regression heads: how far a code must move toward the goal to arrive
    min_confidence: float = 0.0  # for classification heads: the goal label's least probability to arrive

    def loss(self, codes: torch.Tensor) -> torch.Tensor:
        """Per-row loss (N,) of codes (N, D); lower is closer to the goal."""
        config = self.head.config
        out = self.head(codes)
        if config.kind == "regression":
            if self.goal == "max":
                return -out / config.value_std * self.weight
            if self.goal == "min":
                return out / config.value_std * self.weight
            return ((out - float(self.goal)) / config.value_std).pow(2) * self.weight
        label = torch.full((codes.shape[0],), self.head.label_index(str(self.goal)), device=codes.device)
        return F.cross_entropy(out, label, reduction="none") * self.weight

    def reached(self, codes: torch.Tensor) -> torch.Tensor:
        """For classification goals: does the head predict the goal label? (N,) bool."""
        return self.head(codes).argmax(-1) == self.head.label_index(str(self.goal))

    def accepts(self, codes: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """Has each code (N, D) arrived, compared with its start code (N, D)? (N,) bool.

        A classification head must predict the goal label (with a probability of at least
        ``min_confidence``); a regression head must predict more ("max"), less ("min"), or closer
        to the goal number than at the start, by more than ``min_gain``.
        """
        if self.head.config.kind == "classification":
            if self.min_confidence <= 0:
                return self.reached(codes)
            logits, goal = self.head(codes), self.head.label_index(str(self.goal))  # one head pass for both tests
            return (logits.argmax(-1) == goal) & (logits.softmax(-1)[:, goal] >= self.min_confidence)
        now, before = self.head(codes), self.head(start)
        if self.goal == "max":
            return now > before + self.min_gain
        if self.goal == "min":
            return now < before - self.min_gain
        return (now - float(self.goal)).abs() < (before - float(self.goal)).abs() - self.min_gain


def parse_targets(target: dict, heads: dict[str, PropertyHead], weights: dict | None = None) -> list[Target]:
    if not isinstance(target, dict) or not target:
        raise InputError('target must be a non-empty dict such as {"likes": "max"} or {"sentiment": "positive"}')
    if weights is None:
        weights = {}
    elif not isinstance(weights, dict):
        raise InputError(f'weights must be a dict such as {{"likes": 2.0}}, or None; got {type(weights).__name__}')
    parsed = []
    for name, goal in target.items():
        if name not in heads:
            raise InputError(f"unknown head {shown(name)}; available heads: "
                             f"{sorted(heads) or 'none (fit one with fit_head)'}")
        head = heads[name]
        weight = check_number(f"weight of head {name!r}", weights.get(name, 1.0), minimum=0.0, open_min=True)
        if head.config.kind == "regression":
            if isinstance(goal, str) and goal not in ("max", "min"):
                raise InputError(f"head {name!r} is a regression head: its target is a number, 'max' or 'min', got {shown(goal)}")
            if not isinstance(goal, str):
                check_number(f"target of head {name!r}", goal)
        else:
            if str(goal) not in head.config.labels:
                raise InputError(f"head {name!r} has labels {list(head.config.labels)}; got target {shown(goal)}")
            goal = str(goal)
        parsed.append(Target(head, goal, float(weight)))
    return parsed


def total_loss(targets: list[Target], codes: torch.Tensor) -> torch.Tensor:
    return sum(t.loss(codes) for t in targets)
