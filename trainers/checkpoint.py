"""Training checkpoints without pickle: model, optimizer and RNG states as safetensors + JSON.

A checkpoint folder holds ``model.safetensors``, ``optimizer.safetensors`` + ``optimizer.json``,
``rng-<rank>.safetensors`` + ``rng-<rank>.json`` (one per process) and ``state.json``
(step, config). It is written with :func:`latentedit.model_folder.atomic_folder`, so a run
killed mid-save resumes from the previous checkpoint.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from latentedit.errors import ModelFolderError


def optimizer_to_safetensors(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state dict into tensors (for safetensors) and the JSON rest."""
    tensors, scalars = {}, {}
    for index, slots in state_dict["state"].items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def optimizer_from_safetensors(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in list(tensors.items()) + list(meta["scalars"].items()):
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    python_state = random.getstate()
    meta = {
        "python": [python_state[0], list(python_state[1]), python_state[2]],
        "numpy": [kind, pos, has_gauss, cached],
    }
    tensors["numpy_keys"] = torch.from_numpy(keys.astype(np.int64))
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, tensors["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))


def write_checkpoint(folder: Path, model_tensors: dict, optimizer_state: dict, step: int, config_json: str) -> None:
    """Write the shared parts of a checkpoint (call on the main process, inside a staging folder)."""
    save_file(model_tensors, str(folder / "model.safetensors"))
    tensors, meta = optimizer_to_safetensors(optimizer_state)
    save_file(tensors, str(folder / "optimizer.safetensors"))
    (folder / "optimizer.json").write_text(json.dumps(meta))
    (folder / "state.json").write_text(json.dumps({"step": step, "config": json.loads(config_json)}, indent=2))


def write_rng(folder: Path, rank: int) -> None:
    tensors, meta = rng_state()
    save_file(tensors, str(folder / f"rng-{rank}.safetensors"))
    (folder / f"rng-{rank}.json").write_text(json.dumps(meta))


def read_checkpoint(folder: Path, rank: int) -> tuple[dict, dict, int, dict]:
    """Return (model_state, optimizer_state, step, config dict) and restore this rank's RNG."""
    try:
        state = json.loads((folder / "state.json").read_text())
        model_state = load_file(str(folder / "model.safetensors"))
        optimizer_state = optimizer_from_safetensors(
            load_file(str(folder / "optimizer.safetensors")), json.loads((folder / "optimizer.json").read_text())
        )
        rng_tensors = load_file(str(folder / f"rng-{rank}.safetensors"))
        rng_meta = json.loads((folder / f"rng-{rank}.json").read_text())
    except (OSError, ValueError, KeyError) as error:
        raise ModelFolderError(f"cannot resume from {folder}: {error}") from None
    set_rng_state(rng_tensors, rng_meta)
    return model_state, optimizer_state, int(state["step"]), state["config"]
