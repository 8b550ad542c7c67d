"""LatentEditor: the text-level API over a trained Transformer-VAE.

text -> tokens -> posterior mean code (flat, K*dz) -> edit -> greedy decode -> text

>>> from latentedit import LatentEditor
>>> editor = LatentEditor.load("runs/sample/model")          # doctest: +SKIP
>>> editor.reconstruct("the food was great .")              # doctest: +SKIP
'the food was great .'
>>> [p.text for p in editor.interpolate("the food was great .", "the service was slow .", steps=5)]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from .errors import InputError, ModelFolderError
from .model import TransformerVAE

BUILTIN_MODELS = Path(__file__).parent / "models"  # built-in names resolve to folders here


@dataclass
class InterpolationPoint:
    """One point on a path between two codes: t in [0, 1], its code and decoded text."""

    t: float
    latent: torch.Tensor  # (K*dz,)
    text: str


class LatentEditor:
    """Encode, decode and edit texts through a trained Transformer-VAE."""

    def __init__(self, model: TransformerVAE, batch_size: int = 256):
        if model.tokenizer is None:
            raise ModelFolderError("the model has no tokenizer; load it from a model folder with tokenizer.json")
        self.model = model.eval()
        self.tokenizer = model.tokenizer
        self.batch_size = batch_size

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | Path, device: str | torch.device = "cpu") -> "LatentEditor":
        """Load a model folder, or a built-in model by name (see :func:`builtin_models`)."""
        return cls(TransformerVAE.from_pretrained(resolve_model(name_or_path), device=device))

    def save(self, path: str | Path) -> None:
        self.model.save_pretrained(path)

    def to(self, device: str | torch.device) -> "LatentEditor":
        self.model.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- text <-> codes --------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, texts: str | Sequence[str], sample: bool = False, seed: int | None = None) -> torch.Tensor:
        """Flat latent codes: one text gives (K*dz,), a list gives (N, K*dz).

        The posterior mean by default; ``sample=True`` draws z ~ q(z|x) (seeded by ``seed``).
        """
        single, texts = _as_list(texts)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        codes = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer.encode(texts[start : start + self.batch_size], self.model.config.max_length)
            if batch.truncated:
                warnings.warn(f"{batch.truncated} text(s) longer than the model's {self.model.config.max_length} "
                              "tokens were truncated before encoding", stacklevel=2)
            mean, logvar = self.model.encode(batch.ids.to(self.device), batch.mask.to(self.device))
            if sample:
                noise = torch.randn(mean.shape, generator=generator).to(self.device)
                mean = mean + noise * (0.5 * logvar).exp()
            codes.append(mean.flatten(1).float().cpu())
        result = torch.cat(codes)
        return result[0] if single else result

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, method: str = "greedy", **options) -> str | list[str]:
        """Texts for flat codes: (K*dz,) gives one string, (N, K*dz) a list."""
        codes = torch.as_tensor(codes, dtype=torch.float32)
        single = codes.ndim == 1
        codes = codes.reshape(-1, self.model.config.code_size) if single or codes.ndim == 2 else None
        if codes is None or not torch.isfinite(codes).all():
            raise InputError(f"codes must be finite, of shape ({self.model.config.code_size},) or "
                             f"(N, {self.model.config.code_size})")
        texts = []
        for start in range(0, codes.shape[0], self.batch_size):
            ids = self.model.generate(codes[start : start + self.batch_size].to(self.device), method, **options)
            texts.extend(self.tokenizer.decode(ids.cpu()))
        return texts[0] if single else texts

    def reconstruct(self, texts: str | Sequence[str]) -> str | list[str]:
        """Encode (posterior mean) then greedily decode."""
        return self.decode(self.encode(texts))

    def interpolate(self, a: str, b: str, steps: int = 11, method: str = "slerp") -> list[InterpolationPoint]:
        """Decode ``steps`` evenly spaced points between the codes of ``a`` and ``b`` (ends included)."""
        if not isinstance(steps, int) or steps < 2:
            raise InputError(f"steps must be an integer >= 2, got {steps!r}")
        if method not in ("slerp", "lerp"):
            raise InputError(f"method must be 'slerp' or 'lerp', got {method!r}")
        start, end = self.encode([a, b])
        ts = torch.linspace(0.0, 1.0, steps)
        path = torch.stack([(slerp if method == "slerp" else lerp)(start, end, float(t)) for t in ts])
        return [InterpolationPoint(float(t), code, text) for t, code, text in zip(ts, path, self.decode(path))]

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None) -> list[str]:
        """Decode n codes drawn from the prior N(0, temperature^2 I)."""
        if not isinstance(n, int) or n < 1:
            raise InputError(f"n must be a positive integer, got {n!r}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise InputError(f"temperature must be a finite number > 0, got {temperature!r}")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        codes = torch.randn(n, self.model.config.code_size, generator=generator) * temperature
        return self.decode(codes)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (falls back to lerp for nearly parallel vectors)."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:
        return lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def builtin_models() -> list[str]:
    """Names of the models shipped inside the package."""
    if not BUILTIN_MODELS.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_MODELS.iterdir() if (p / "config.json").is_file())


def resolve_model(name_or_path: str | Path) -> Path:
    """A path to an existing folder is used as is; otherwise a built-in model name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    builtin = BUILTIN_MODELS / str(name_or_path)
    if "/" not in str(name_or_path) and (builtin / "config.json").is_file():
        return builtin
    available = builtin_models()
    raise ModelFolderError(
        f"no model folder at {name_or_path!r} and no built-in model of that name "
        f"(built-in: {available or 'none shipped yet'})"
    )


def _as_list(texts: str | Sequence[str]) -> tuple[bool, list[str]]:
    """Validate text input: a non-empty string, or a non-empty list of them."""
    single = isinstance(texts, str)
    items = [texts] if single else texts
    if not isinstance(items, (list, tuple)):
        raise InputError(f"expected a string or a list of strings, got {type(texts).__name__}")
    if not items:
        raise InputError("expected at least one text, got an empty list")
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InputError(f"text {index} is {type(text).__name__}, not a string")
        if not text.strip():
            raise InputError(f"text {index} is empty or whitespace; give at least one visible character")
    return single, list(items)
