"""Checks of values that cross latentedit's boundary: arguments of public calls, CLI inputs and
config values.

Each check returns the value in the form the caller uses, or raises ``error`` (InputError unless
the caller passes ConfigError, DataFormatError or ModelFolderError) with a one-line message naming
the value. Types are checked before values, so that odd objects (numpy arrays, tensors, unhashable
containers, bools posing as numbers) never reach a comparison that would fail some other way.

>>> check_int("steps", 3, minimum=1)
3
>>> check_number("lr", "0.1", minimum=0, open_min=True)
Traceback (most recent call last):
...
latentedit.errors.InputError: lr must be a finite number > 0, got '0.1'
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from .errors import InputError

MAX_COUNT = 2**31 - 1  #: larger counts and sizes (loop lengths, numbers of texts) are refused as absurd
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1  #: the seeds torch.Generator.manual_seed accepts
DEVICE_TYPES = ("cpu", "cuda", "mps")
SHOWN_CHARACTERS = 100  #: of a value's repr in a message


def shown(value: Any) -> str:
    """The repr of ``value`` for a message, cut to :data:`SHOWN_CHARACTERS`."""
    try:
        text = repr(value)
    except Exception:  # an int of more than 4300 digits, a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def check_int(name: str, value: Any, minimum: int = 0, maximum: int = MAX_COUNT, error: type = InputError,
              expected: str | None = None) -> int:
    """An int (not a bool) in [minimum, maximum]; ``expected`` words the range ("a positive integer")."""
    if expected is None:
        expected = f"an integer >= {minimum}" if maximum == MAX_COUNT else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(f"{name} must be {expected}, got {shown(value)}")
    if value > maximum:
        raise error(f"{name} must be at most {maximum}, got {shown(value)}")
    return value


def check_number(name: str, value: Any, minimum: float = -math.inf, maximum: float = math.inf, *,
                 open_min: bool = False, open_max: bool = False, error: type = InputError) -> float:
    """A finite int or float (not a bool) in the range, as a float; ``open_min`` / ``open_max``
    leave the bound itself out."""
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range
            pass
    too_low = number <= minimum if open_min else number < minimum
    too_high = number >= maximum if open_max else number > maximum
    if not math.isfinite(number) or too_low or too_high:
        raise error(f"{name} must be a finite number{_range(minimum, maximum, open_min, open_max)}, got {shown(value)}")
    return number


def _range(minimum: float, maximum: float, open_min: bool, open_max: bool) -> str:
    def show(bound: float) -> str:
        return f"{bound:g}"

    if math.isinf(minimum) and math.isinf(maximum):
        return ""
    if math.isinf(maximum):
        return f" {'>' if open_min else '>='} {show(minimum)}"
    if math.isinf(minimum):
        return f" {'<' if open_max else '<='} {show(maximum)}"
    return f" in {'(' if open_min else '['}{show(minimum)}, {show(maximum)}{')' if open_max else ']'}"


def check_bool(name: str, value: Any, error: type = InputError) -> bool:
    if not isinstance(value, bool):
        raise error(f"{name} must be True or False, got {shown(value)}")
    return value


def check_str(name: str, value: Any, error: type = InputError) -> str:
    if not isinstance(value, str):
        raise error(f"{name} must be a string, got {type(value).__name__}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...], error: type = InputError) -> str:
    """One of the strings in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name} must be one of {list(choices)}, got {shown(value)}")
    return value


def check_seed(value: Any, name: str = "seed", optional: bool = False) -> int | None:
    """A seed for torch.Generator.manual_seed; None too when ``optional`` (unseeded)."""
    if value is None and optional:
        return None
    return check_int(name, value, SEED_MIN, SEED_MAX)


def check_text(value: Any, name: str = "text", allow_empty: bool = False) -> str:
    """A str that can be encoded to UTF-8 (no lone surrogates, which undecodable bytes in argv or
    file names turn into) and, unless ``allow_empty``, holds a visible character."""
    if not isinstance(value, str):
        raise InputError(f"{name} is {type(value).__name__}, not a string")
    if not allow_empty and not value.strip():
        raise InputError(f"{name} is empty or whitespace; give at least one visible character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as problem:
        raise InputError(f"{name} is not valid Unicode: it holds a lone surrogate at character {problem.start + 1} "
                         "(undecodable bytes?)") from None
    return value


def check_path(name: str, value: Any, error: type = InputError) -> Path:
    """A file system path: a non-empty str or os.PathLike without NUL characters that the file
    system encoding can represent."""
    if not isinstance(value, (str, os.PathLike)):
        raise error(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    text = os.fspath(value)
    if not isinstance(text, str):
        raise error(f"{name} must be a str path, got {type(text).__name__}")
    if not text:
        raise error(f"{name} is empty")
    if "\x00" in text:
        raise error(f"{name} {shown(text)} holds a NUL character")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise error(f"{name} {shown(text)} cannot be represented in the file system's encoding") from None
    return Path(text)


def check_device(value: Any) -> torch.device:
    """A device to run on that this machine has: "cpu", "cuda", "cuda:N", "mps" or a torch.device."""
    if not isinstance(value, (str, torch.device)):
        raise InputError(f"device must be a str such as 'cpu' or 'cuda:0', or a torch.device, got {type(value).__name__}")
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError, TypeError):
        raise InputError(f"unknown device {shown(value)}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if device.type not in DEVICE_TYPES:
        raise InputError(f"device {shown(value)} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'mps'")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise InputError(f"device {shown(value)} is not available: this machine has {count} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {shown(value)} is not available on this machine")
    return device


def check_numbers(name: str, values: Any, hint: str = "") -> torch.Tensor:
    """A list, array or tensor of numbers as a flat float32 tensor (finiteness is the caller's check);
    ``hint`` ends the message."""
    try:
        if isinstance(values, (str, bytes)):
            raise TypeError
        return torch.as_tensor(values, dtype=torch.float32).flatten()
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise InputError(f"{name} must be a list of numbers{hint}") from None


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def check_precision(value: Any) -> torch.dtype:
    """A precision to run a model in: "float32" or "bfloat16" (or the torch dtype itself)."""
    for name, dtype in PRECISIONS.items():
        if isinstance(value, (str, torch.dtype)) and value in (name, dtype):
            return dtype
    raise InputError(f"unknown precision {shown(value)}; use one of {list(PRECISIONS)}")
