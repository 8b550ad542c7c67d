"""EditResult: what every edit returns; edits chain from its latent code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class EditResult:
    """One edited text.

    ``text`` is the decoded output (what the user gets); ``scores`` are the heads' predictions
    on that text re-encoded, so they describe the text and not the code the search reached.
    ``trajectory`` lists the candidates considered (step or strength, text, scores, distance).
    """

    text: str
    source_text: str
    latent: torch.Tensor  # (K*dz,) the code that was decoded (after a revert: the reverted text's code)
    source_latent: torch.Tensor  # (K*dz,) the code the edit started from
    operation: str  # "shift" | "optimize" | "neighbor"
    scores: dict[str, Any] = field(default_factory=dict)
    source_scores: dict[str, Any] = field(default_factory=dict)
    trajectory: list[dict] = field(default_factory=list)
    strength: float | None = None
    distance: float = 0.0  # L2 distance between the re-encoded output and the source code
    similarity: float = 1.0  # word-level similarity of text to source_text (difflib ratio)
    editor: Any = field(default=None, repr=False, compare=False)

    def shift(self, direction: str, strength: float | str = 1.0, **options) -> "EditResult":
        """Shift further along a direction, starting from this result's code."""
        return self._editor().shift_codes(self.latent.unsqueeze(0), [self.source_text], direction, strength, **options)[0]

    def optimize(self, target: dict, **options) -> "EditResult":
        """Continue a latent search from this result's code."""
        return self._editor().optimize_codes(self.latent.unsqueeze(0), [self.source_text], target, **options)[0]

    def to_dict(self) -> dict:
        return {
            "text": self.text, "source_text": self.source_text, "operation": self.operation,
            "strength": self.strength, "scores": self.scores, "source_scores": self.source_scores,
            "distance": round(self.distance, 4), "similarity": round(self.similarity, 4),
            "trajectory": self.trajectory,
        }

    def _editor(self):
        if self.editor is None:
            raise RuntimeError("this result is not attached to a LatentEditor; edit through the editor instead")
        return self.editor
