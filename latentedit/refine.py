"""Refined encoding: close the encoder's amortization gap by gradient descent on each code.

The encoder maps a text to its posterior mean in one pass; on a model trained for a few hours
that code often decodes to a slightly different text, even when the decoder could write the
text exactly from a nearby code. ``refine_codes`` starts from the encoder's codes and takes Adam
steps on the decoder's teacher-forced reconstruction loss, code by code, and stops moving a code
as soon as the decoder's teacher-forced argmax spells its text (so a code that already
reconstructs its text does not move). This is the inference half of semi-amortized VAEs (Kim et
al. 2018); the model's weights are untouched.

>>> from latentedit import LatentEditor
>>> editor = LatentEditor.load("default")                               # doctest: +SKIP
>>> editor.decode(editor.encode("the waiter forgot our drinks twice .", refine=20))  # doctest: +SKIP
'the waiter forgot our drinks twice .'
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import IGNORE_INDEX, TransformerVAE

REFINE_LR = 0.05  # Adam's step on each code coordinate; codes have coordinates of about 1


def refine_codes(model: TransformerVAE, ids: torch.Tensor, mask: torch.Tensor, codes: torch.Tensor,
                 steps: int, lr: float = REFINE_LR) -> torch.Tensor:
    """Codes (B, D) moved by up to ``steps`` Adam steps toward reconstructing ids (B, T) (mask
    (B, T)); each code stops once the teacher-forced argmax reproduces every token of its text.
    -> refined codes (B, D), float32, detached."""
    labels = ids.masked_fill(~mask.bool(), IGNORE_INDEX)  # (B, T)
    inputs = model.decoder_inputs(ids)  # (B, T); eval mode: no word dropout
    z = codes.detach().float().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():  # callers may run under no_grad
        for _ in range(steps):
            if not _step(model, inputs, labels, z, optimizer):
                break
    return z.detach()


def _step(model: TransformerVAE, inputs: torch.Tensor, labels: torch.Tensor, z: torch.Tensor,
          optimizer: torch.optim.Optimizer) -> bool:
    """One Adam step on the codes z (B, D) that do not reconstruct yet; False when all do."""
    cfg = model.config
    memory, offset = model.latent_context(z.to(model.shared.weight.dtype).view(-1, cfg.latent_tokens, cfg.latent_dim))
    logits = model.decoder_logits(inputs, memory, offset)  # (B, T, V)
    done = ((logits.argmax(-1) == labels) | (labels == IGNORE_INDEX)).all(-1)  # (B,)
    if done.all():
        return False
    loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
    (z.grad,) = torch.autograd.grad(loss, z)
    kept = z.detach().clone()
    optimizer.step()
    with torch.no_grad():
        z[done] = kept[done]  # a code that reconstructs its text stays where it is
    return True
