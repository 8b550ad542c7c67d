"""What the fine-tune experiments here share: rows of an encoded corpus, the teacher-forced
decoding loss, the warm-up + cosine-in-time schedule, and for the decoder-only ones freezing
everything that makes a code (`bt_finetune.py`, `cycle_finetune.py`, `syntax_selftrain.py`) and
saving the result beside the shipped default model's heads and directions (the first two and
`bt_soup.py`)."""

import math
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from latentedit.model import IGNORE_INDEX
from latentedit.model_folder import save_model


def rows(encoded, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ids, mask (B, T) of the encoded texts at index (B,), cut to the longest."""
    mask = encoded.mask[index]
    width = int(mask.sum(1).max())
    return encoded.ids[index, :width], mask[:, :width]


def decoding_loss(model, codes: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Summed token cross-entropy per text, and token accuracy, of decoding ids (B, T) teacher-forced
    from codes (B, K, dz)."""
    logits = model.decoder_logits(model.decoder_inputs(ids), *model.latent_context(codes))
    labels = ids.masked_fill(~mask.bool(), IGNORE_INDEX)
    loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX,
                           reduction="sum") / len(ids)
    valid = labels != IGNORE_INDEX
    return loss, (logits.argmax(-1)[valid] == labels[valid]).float().mean().item()


def schedule(step: int, used: float, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, cosine decay to 0.1 over the
    share ``used`` of the run's minutes."""
    return min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * used)))


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
