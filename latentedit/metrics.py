"""Reconstruction and latent-health metrics shared by the trainer and the evaluation suite.

>>> aligned_token_accuracy([5, 6, 7], [5, 6, 7])
1.0
>>> aligned_token_accuracy([5, 6, 7, 8], [5, 7, 8])
0.75
>>> import torch
>>> active_units(torch.stack([torch.arange(10.0), torch.zeros(10)], dim=1))
1
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch

from .tokenizer import EOS_ID, PAD_ID


def aligned_token_accuracy(target: list[int], output: list[int]) -> float:
    """Share of target tokens matched by the output after a longest-match alignment
    (difflib), divided by the longer of the two lengths so that extra tokens also count."""
    if not target and not output:
        return 1.0
    matcher = difflib.SequenceMatcher(a=target, b=output, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / max(len(target), len(output))


def active_units(means: torch.Tensor, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies across the data: means (N, D)."""
    return int((means.float().var(dim=0) > threshold).sum())


def strip_ids(row: list[int]) -> list[int]:
    """Ids up to (not including) the first </s>, without padding."""
    if EOS_ID in row:
        row = row[: row.index(EOS_ID)]
    return [t for t in row if t != PAD_ID]


@dataclass
class ReconstructionReport:
    teacher_forced_accuracy: float  # next-token accuracy given the true prefix
    greedy_exact_match: float  # share of texts whose free-running greedy decoding is exact
    greedy_token_accuracy: float  # aligned token accuracy of greedy decoding
    reconstruction: float  # cross-entropy nats per example (posterior mean as z)
    rate: float  # KL nats per example
    active_units: int  # of code_size latent dimensions
    code_size: int
    examples: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@torch.no_grad()
def reconstruction_report(model, ids: torch.Tensor, mask: torch.Tensor, batch_size: int = 256,
                          codes: torch.Tensor | None = None) -> ReconstructionReport:
    """Evaluate a model on pre-tokenised examples ids/mask (N, T) with the posterior mean; given
    ``codes`` (N, D), such as refined codes (see :mod:`latentedit.refine`), the accuracies and exact
    match decode those instead (reconstruction, rate and active units stay at the posterior)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = tokens = exact = 0
    aligned, recon, rate, means = [], 0.0, 0.0, []
    for start in range(0, ids.shape[0], batch_size):
        batch_ids = ids[start : start + batch_size].to(device)
        batch_mask = mask[start : start + batch_size].to(device)
        out = model(batch_ids, batch_mask, sample=False)
        z, logits = out.mean.float(), out.logits  # (B, K, dz), (B, T, V); mean is bf16 under mixed precision
        if codes is not None:
            z = codes[start : start + batch_size].to(device, torch.float32).view_as(z)
            logits = model.decoder_logits(model.decoder_inputs(batch_ids), *model.latent_context(z))
        valid = batch_mask.bool()
        correct += int((logits.argmax(-1)[valid] == batch_ids[valid]).sum())
        tokens += int(valid.sum())
        recon += float(out.reconstruction) * batch_ids.shape[0]
        rate += float(out.rate) * batch_ids.shape[0]
        means.append(out.mean.float().flatten(1).cpu())
        generated = model.generate(z, max_length=ids.shape[1] + 4)
        for target_row, output_row in zip(batch_ids.tolist(), generated.tolist()):
            target, output = strip_ids(target_row), strip_ids(output_row)
            exact += target == output
            aligned.append(aligned_token_accuracy(target, output))
    model.train(was_training)
    count = ids.shape[0]
    return ReconstructionReport(
        teacher_forced_accuracy=correct / max(tokens, 1),
        greedy_exact_match=exact / max(count, 1),
        greedy_token_accuracy=sum(aligned) / max(len(aligned), 1),
        reconstruction=recon / max(count, 1),
        rate=rate / max(count, 1),
        active_units=active_units(torch.cat(means)) if means else 0,
        code_size=model.config.code_size,
        examples=count,
    )
