"""What the decoder-only fine-tunes here (`bt_finetune.py`, `cycle_finetune.py`) share: freezing
everything that makes a code, and saving the result beside the shipped model's heads and directions."""

import shutil
from pathlib import Path

import torch

from latentedit.model_folder import save_model


def decoder_parameters(model) -> list[torch.nn.Parameter]:
    """Freeze the model except the decoder and the layers that read the code; return those. The
    tied embeddings stay frozen too (the encoder reads them), so codes, heads and directions stay valid."""
    shared = {id(p) for p in model.shared.parameters()}
    trainable = [p for module in (model.decoder, model.to_memory, model.to_embedding) for p in module.parameters()
                 if id(p) not in shared]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in trainable:
        parameter.requires_grad_(True)
    return trainable


def save_beside_default(model, out: Path) -> None:
    """A model folder at ``out``: the shipped default's heads, directions and lexicon (valid: the codes
    did not change) with ``model``'s weights."""
    model.eval()
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree("latentedit/models/default", out)
    save_model(model, out)
