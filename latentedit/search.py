"""Latent search: move codes to lower a target loss while staying near where they started.

Both methods minimise, for each row of a batch of codes independently,

    loss(z) = target(z) + proximity * ||z - z0||^2 / D + prior * ||z||^2 / (2 D)

and return the trajectory of codes they visited, from which the editor decodes candidates.

>>> import torch
>>> start = torch.zeros(2, 4)
>>> path = adam_search(start, lambda z: -z[:, 0], steps=20, lr=0.1, proximity=0.0, prior=0.0)
>>> path.shape, bool((path[-1, :, 0] > path[0, :, 0]).all())
(torch.Size([21, 2, 4]), True)
"""

from __future__ import annotations

from typing import Callable

import torch

Objective = Callable[[torch.Tensor], torch.Tensor]  # codes (N, D) -> per-row target loss (N,)


def penalised(objective: Objective, start: torch.Tensor, proximity: float, prior: float) -> Objective:
    dim = start.shape[-1]

    def total(z: torch.Tensor) -> torch.Tensor:
        return objective(z) + proximity * (z - start).pow(2).sum(-1) / dim + prior * 0.5 * z.pow(2).sum(-1) / dim

    return total


def adam_search(start: torch.Tensor, objective: Objective, steps: int = 50, lr: float = 0.05,
                proximity: float = 1.0, prior: float = 0.1, tolerance: float | None = None,
                patience: int = 3) -> torch.Tensor:
    """Adam on the codes themselves. start (N, D) -> trajectory (T + 1, N, D), T <= steps.

    With a ``tolerance``, stops early once no row's penalised loss has improved by more than
    that (relative) for ``patience`` steps: the path beyond would add no new candidates.
    """
    loss_fn = penalised(objective, start.detach(), proximity, prior)
    z = start.detach().clone().requires_grad_(True)
    first, second = torch.zeros_like(z), torch.zeros_like(z)  # Adam moments
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    path = [start.detach().clone()]
    best, stalled = None, 0
    for step in range(1, steps + 1):
        loss = loss_fn(z)  # (N,)
        (grad,) = torch.autograd.grad(loss.sum(), z)  # rows are independent: each gets its own gradient
        with torch.no_grad():
            first.mul_(beta1).add_(grad, alpha=1 - beta1)
            second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            update = (first / (1 - beta1**step)) / ((second / (1 - beta2**step)).sqrt() + eps)
            z -= lr * update
        path.append(z.detach().clone())
        current = loss.detach()
        if tolerance is None:
            continue
        if best is not None and bool((current < best - tolerance * best.abs().clamp(min=1.0)).any()):
            stalled = 0
        elif best is not None:
            stalled += 1
            if stalled >= patience:
                break
        best = current if best is None else torch.minimum(best, current)
    return torch.stack(path)


@torch.no_grad()
def random_search(start: torch.Tensor, objective: Objective, steps: int = 50, population: int = 16,
                  radius: float = 0.5, proximity: float = 1.0, prior: float = 0.1,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Gradient-free trust-region random search. start (N, D) -> trajectory (steps + 1, N, D).

    Each step samples ``population`` points in a ball of the current radius (per row, relative
    to the code's RMS size) around the best point so far; an improvement moves there and widens
    the region (x1.5), a failure narrows it (x0.5).
    """
    loss_fn = penalised(objective, start, proximity, prior)
    population_loss_fn = penalised(objective, start.repeat(population, 1), proximity, prior)  # rows p*N + n
    n, dim = start.shape
    best = start.clone()
    best_loss = loss_fn(best)
    scale = start.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-3)  # (N, 1)
    radii = torch.full((n, 1), float(radius))
    path = [best.clone()]
    for _ in range(steps):
        noise = torch.randn(population, n, dim, generator=generator).to(start.device)
        noise = noise / noise.norm(dim=-1, keepdim=True).clamp(min=1e-12) * dim**0.5
        candidates = best.unsqueeze(0) + noise * (radii * scale).unsqueeze(0)  # (P, N, D)
        losses = population_loss_fn(candidates.reshape(-1, dim)).view(population, n)
        step_loss, index = losses.min(0)  # (N,)
        improved = step_loss < best_loss
        chosen = candidates[index, torch.arange(n)]
        best = torch.where(improved.unsqueeze(-1), chosen, best)
        best_loss = torch.where(improved, step_loss, best_loss)
        radii = torch.where(improved.unsqueeze(-1), radii * 1.5, radii * 0.5)
        path.append(best.clone())
    return torch.stack(path)
