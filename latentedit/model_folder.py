"""The on-disk model folder: ``config.json``, ``model.safetensors``, ``tokenizer.json``.

Saves are atomic: the folder is written beside the target and swapped in with one rename, so
a crash mid-save leaves the previous model intact. Loading reads safetensors only and never
unpickles anything.

>>> import tempfile, torch
>>> from latentedit import TransformerVAE, VAEConfig
>>> model = TransformerVAE(VAEConfig(vocab_size=64, d_model=32, d_ff=64, num_heads=2, d_kv=16,
...                                  encoder_layers=1, decoder_layers=1, latent_tokens=1, latent_dim=8))
>>> folder = tempfile.mkdtemp() + "/tiny"
>>> model.save_pretrained(folder)
>>> TransformerVAE.from_pretrained(folder).config == model.config
True
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import torch
import transformers
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .config import VAEConfig
from .errors import ConfigError, ModelFolderError
from .tokenizer import Tokenizer
from .validation import check_device, check_path

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_VERSION = 1
UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
T = TypeVar("T")


def save_model(model, folder: str | Path, write_extra: Callable[[Path], None] | None = None) -> None:
    """Write the model (and ``model.tokenizer`` when set) to ``folder``, atomically.

    ``write_extra(staging)`` may add files and folders (heads/, directions/), which replace their
    old versions; anything else already in the folder (a model card) is carried over.
    """
    folder = check_path("model folder", folder, ModelFolderError)
    with atomic_folder(folder) as staging:
        if write_extra is not None:
            write_extra(staging)
        if folder.is_dir():
            for item in folder.iterdir():
                if item.name not in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE) and not (staging / item.name).exists():
                    copy = shutil.copytree if item.is_dir() else shutil.copy2
                    copy(item, staging / item.name)
        header = {
            "format_version": FORMAT_VERSION,
            "model": model.config.to_dict(),
            "versions": {"latentedit": __version__, "torch": torch.__version__,
                         "transformers": transformers.__version__},
        }
        (staging / CONFIG_FILE).write_text(json.dumps(header, indent=2) + "\n")
        save_file(model.tensors_to_save(), str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        if model.tokenizer is not None:
            model.tokenizer.save(staging / TOKENIZER_FILE)


def read_config(folder: str | Path) -> VAEConfig:
    """Read and validate ``config.json`` of a model folder."""
    folder = check_path("model folder", folder, ModelFolderError)
    if not folder.exists():
        raise ModelFolderError(f"model folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelFolderError(f"{folder} is a file; a model is a folder holding {CONFIG_FILE} and {WEIGHTS_FILE}")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelFolderError(f"{folder} has no {CONFIG_FILE}: not a latentedit model folder")
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{path} is not valid JSON ({error}); the file is damaged") from None
    if not isinstance(header, dict) or "model" not in header:
        raise ModelFolderError(f"{path} has no 'model' section: not a latentedit model config")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(
            f"{path} has format_version {version!r}; this latentedit ({__version__}) reads version "
            f"{FORMAT_VERSION}. Upgrade latentedit or re-save the model with a matching version."
        )
    try:
        return VAEConfig.from_dict(header["model"])
    except (ConfigError, TypeError) as error:
        raise ModelFolderError(f"{path} holds an invalid model config: {error}") from None


def load_model(folder: str | Path, device: str | torch.device = "cpu"):
    """Load a model folder; returns a TransformerVAE in eval mode with ``.tokenizer`` set."""
    folder, device = check_path("model folder", folder, ModelFolderError), check_device(device)
    read_config(folder)  # clear errors for a missing or foreign folder first
    return read_consistently(folder, lambda: _load_model_files(folder, device))


def _load_model_files(folder: Path, device):
    from .model import TransformerVAE

    config = read_config(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        unsafe = sorted(p.name for p in folder.iterdir() if p.suffix in UNSAFE_SUFFIXES)
        hint = (f" It holds {unsafe}: pickle-based weights are refused because loading them can run "
                "arbitrary code; convert them to safetensors with a tool you trust.") if unsafe else ""
        raise ModelFolderError(f"{folder} has no {WEIGHTS_FILE}.{hint}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFolderError(f"cannot read {weights} ({error}); the file is truncated or damaged") from None
    model = TransformerVAE(config)
    model.load_saved_tensors(state, source=str(weights))
    tokenizer_path = folder / TOKENIZER_FILE
    if tokenizer_path.is_file():
        model.tokenizer = Tokenizer.load(tokenizer_path)
        if model.tokenizer.vocab_size > config.vocab_size:
            raise ModelFolderError(
                f"{tokenizer_path} has {model.tokenizer.vocab_size} tokens but the model only "
                f"{config.vocab_size}; the folder mixes files of different models"
            )
    return model.to(device).eval()


# -- atomic writes ---------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` in one step.

    On Linux the swap is one renameat2(RENAME_EXCHANGE) call: at every instant ``target`` is
    either the complete old folder or the complete new one. Elsewhere two renames are used.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.saving-"
    _remove_leftovers(target.parent, prefix)
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=target.parent))
    _usual_permissions(staging, 0o777)  # mkdtemp makes 0700
    try:
        yield staging
        commit_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def commit_folder(staging: Path, target: Path) -> None:
    """Flush ``staging`` to disk and put it in place of ``target`` in one step; the previous
    version of ``target`` (if any) is deleted afterwards."""
    _fsync_tree(staging)
    if not target.exists():
        os.rename(staging, target)
        return
    if not target.is_dir():
        raise ModelFolderError(f"cannot save a folder over the file {target}")
    if not _exchange(staging, target):
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
        os.rename(staging, target)
        staging = old
    shutil.rmtree(staging, ignore_errors=True)  # staging now holds the previous version


@contextlib.contextmanager
def atomic_file(target: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temporary file beside ``target``; it replaces ``target`` only when the block ends
    without error, so readers never see a partial file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.writing-"
    _remove_leftovers(target.parent, prefix)
    handle, temp_name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".tmp", dir=target.parent)
    if target.is_file():
        os.chmod(temp_name, target.stat().st_mode & 0o7777)  # keep the file's permissions
    else:
        _usual_permissions(temp_name, 0o666)  # mkstemp makes 0600
    try:
        with os.fdopen(handle, mode, encoding=None if "b" in mode else encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _remove_leftovers(parent: Path, prefix: str) -> None:
    """Delete staging files and folders ``<prefix><pid>-*`` left by processes that were killed."""
    for leftover in parent.glob(f"{glob.escape(prefix)}*"):
        pid = leftover.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def read_consistently(folder: Path, read: Callable[[], T]) -> T:
    """Run ``read`` (which opens files in ``folder`` one by one) until the folder was not swapped
    by a concurrent save meanwhile, so that all files come from one version."""
    for attempt in range(20):
        if attempt:
            time.sleep(0.01 * attempt)  # let the concurrent save finish
        before = _identity(folder)
        try:
            result = read()
        except ModelFolderError:
            if folder.exists() and _identity(folder) != before:
                continue  # files of two versions met: read again
            raise
        if _identity(folder) == before:
            return result
    raise ModelFolderError(f"{folder} kept changing while being read (another process is saving to it); try again")


def _identity(folder: Path) -> tuple[int, int]:
    """Which folder sits at this path: the inode alone can be reused by the next save's folder,
    its change time (set when it was created or renamed into place) tells them apart."""
    stat = folder.stat()
    return stat.st_ino, stat.st_ctime_ns


def _usual_permissions(path: str | Path, bits: int) -> None:
    """Give a temporary file or folder the permissions a plain open()/mkdir() would have."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, bits & ~umask)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as stream:
                os.fsync(stream.fileno())


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0
