"""Regularisers that keep the latent space close to a standard normal prior.

All functions work on plain tensors so that they can be tested against known answers:

>>> import torch
>>> x = torch.randn(256, 8)
>>> float(mmd(x, x)) < 0.02
True
>>> float(mmd(x, x + 2.0)) > 0.1
True
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _pairwise_sq_dist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # x (N, D), y (M, D) -> (N, M), through one matrix product (no (N, M, D) tensor)
    return (x.pow(2).sum(-1, keepdim=True) + y.pow(2).sum(-1) - 2.0 * x @ y.t()).clamp_min(0.0)


def kernel_matrix(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq") -> torch.Tensor:
    """Kernel values k(x_i, y_j), summed over several length scales (robust to scale).

    IMQ: C / (C + ||x - y||^2) and RBF: exp(-||x - y||^2 / C), with C = 2 * D * s for
    s in (0.1, 0.2, 0.5, 1, 2, 5, 10), as in the MMD-VAE literature.
    """
    dim = x.shape[-1]
    dist = _pairwise_sq_dist(x, y)
    total = torch.zeros_like(dist)
    for scale in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0):
        c = 2.0 * dim * scale
        if kernel == "imq":
            total = total + c / (c + dist)
        elif kernel == "rbf":
            total = total + torch.exp(-dist / c)
        else:
            raise ValueError(f"unknown kernel {kernel!r}; use 'imq' or 'rbf'")
    return total


def mmd(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq") -> torch.Tensor:
    """Unbiased estimate of the squared maximum mean discrepancy between samples x and y.

    x (N, D) and y (M, D), N, M >= 2. Near 0 when both come from one distribution.
    """
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError("mmd needs at least two samples on each side")
    k_xx = kernel_matrix(x, x, kernel)
    k_yy = kernel_matrix(y, y, kernel)
    k_xy = kernel_matrix(x, y, kernel)
    term_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    term_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return term_xx + term_yy - 2.0 * k_xy.mean()


def mmd_to_prior(z: torch.Tensor, kernel: str = "imq") -> torch.Tensor:
    """MMD between latent tokens and fresh standard-normal samples, per token.

    z (B, K, dz): each of the B*K latent tokens is one sample, as in the Transformer-VAE.
    """
    flat = z.reshape(-1, z.shape[-1])  # (B*K, dz)
    prior = torch.randn_like(flat)
    return mmd(flat, prior, kernel)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Analytic KL( N(mean, exp(logvar)) || N(0, 1) ) per dimension; same shape as mean."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """KL with free bits: each dimension's batch-mean KL is floored at ``free_bits`` nats.

    kl_per_dim (B, ...) -> scalar sum over dimensions of max(free_bits, mean over batch).
    Below the floor a dimension gets no gradient pushing its rate further down.
    """
    per_dim = kl_per_dim.mean(0)
    return torch.clamp(per_dim, min=free_bits).sum()


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: D401 - autograd signature
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class MinimumDesiredRate(nn.Module):
    """Lagrange multiplier for the constraint rate >= target (Pelsmaeker & Aziz, MDR).

    ``penalty(rate)`` returns multiplier * (target - rate). The model's parameters descend on
    it (pushing the rate up while the multiplier is positive); the multiplier itself ascends
    (its gradient is reversed), so an optimizer step raises it while rate < target and lowers
    it while rate > target. The multiplier is softplus(raw) >= 0.
    """

    def __init__(self, target_rate: float):
        super().__init__()
        self.target_rate = float(target_rate)
        self.raw = nn.Parameter(torch.tensor(math.log(math.expm1(1.0))))  # multiplier starts at 1

    @property
    def multiplier(self) -> torch.Tensor:
        return nn.functional.softplus(self.raw)

    def penalty(self, rate: torch.Tensor) -> torch.Tensor:
        multiplier = nn.functional.softplus(_ReverseGrad.apply(self.raw))
        return multiplier * (self.target_rate - rate)


def cyclical_beta(step: int, total_steps: int, cycles: int = 4, ratio: float = 0.5) -> float:
    """Cyclical annealing (Fu et al. 2019): in each cycle beta rises 0 -> 1 over ``ratio``
    of the cycle, then stays at 1.

    >>> [round(cyclical_beta(s, 8, cycles=2, ratio=0.5), 2) for s in range(8)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
    """
    if total_steps <= 0 or cycles <= 0:
        return 1.0
    period = total_steps / cycles
    position = (step % period) / period
    return min(1.0, position / ratio) if ratio > 0 else 1.0
