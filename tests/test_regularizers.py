import math

import pytest
import torch

from latentedit.regularizers import (
    MinimumDesiredRate,
    cyclical_beta,
    free_bits_kl,
    gaussian_kl,
    kernel_matrix,
    mmd,
    mmd_to_prior,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_near_zero_for_same_distribution(kernel, gen):
    x = torch.randn(256, 8, generator=gen)
    y = torch.randn(256, 8, generator=gen)
    assert abs(float(mmd(x, x, kernel))) < 0.05
    assert abs(float(mmd(x, y, kernel))) < 0.05


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_grows_monotonically_with_mean_shift(kernel, gen):
    x = torch.randn(256, 8, generator=gen)
    y = torch.randn(256, 8, generator=gen)
    values = [float(mmd(x, y + shift, kernel)) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values), values
    assert values[1] > values[0] + 0.01
    assert values[3] > 0.3


def test_mmd_symmetric_and_rejects_single_sample(gen):
    x, y = torch.randn(64, 4, generator=gen), torch.randn(80, 4, generator=gen) + 1
    assert torch.allclose(mmd(x, y), mmd(y, x), atol=1e-5)
    with pytest.raises(ValueError):
        mmd(x[:1], y)
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel_matrix(x, y, "cosine")


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_to_prior_small_for_standard_normal_large_when_shifted(kernel):
    torch.manual_seed(0)
    z = torch.randn(64, 4, 8)  # (B, K, dz): 256 latent tokens
    near = float(mmd_to_prior(z, kernel))
    far = float(mmd_to_prior(z + 1.5, kernel))
    wide = float(mmd_to_prior(z * 3.0, kernel))
    assert abs(near) < 0.05
    assert far > 10 * max(abs(near), 0.01)
    assert wide > 10 * max(abs(near), 0.01)


@pytest.mark.parametrize("mean, logvar", [(0.0, 0.0), (1.0, 0.0), (-0.5, -1.0), (2.0, 1.0), (0.3, -3.0)])
def test_gaussian_kl_matches_monte_carlo(mean, logvar):
    gen = torch.Generator().manual_seed(1)
    mean_t, logvar_t = torch.tensor(mean, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    std = (0.5 * logvar_t).exp()
    samples = mean_t + std * torch.randn(400_000, generator=gen, dtype=torch.float64)
    log_q = -0.5 * (((samples - mean_t) / std) ** 2 + logvar_t + math.log(2 * math.pi))
    log_p = -0.5 * (samples**2 + math.log(2 * math.pi))
    monte_carlo = float((log_q - log_p).mean())
    analytic = float(gaussian_kl(mean_t, logvar_t))
    assert analytic >= 0
    assert analytic == pytest.approx(monte_carlo, abs=0.02 + 0.01 * analytic)


def test_gaussian_kl_zero_only_at_prior():
    assert float(gaussian_kl(torch.zeros(3), torch.zeros(3)).abs().max()) == 0.0
    assert gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)).shape == (2, 5)


def test_free_bits_floors_each_dimension_and_blocks_its_gradient():
    # batch-mean KL per dim: 0.1, 0.3 (below the 0.5 floor), 0.8, 2.0 (above)
    per_dim = torch.tensor([[0.0, 0.2, 0.6, 1.0], [0.2, 0.4, 1.0, 3.0]], requires_grad=True)
    total = free_bits_kl(per_dim, free_bits=0.5)
    assert float(total.detach()) == pytest.approx(0.5 + 0.5 + 0.8 + 2.0)
    total.backward()
    # d total / d per_dim[b, j] = 1/B above the floor, 0 below it
    assert torch.equal(per_dim.grad, torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5]]))


def test_free_bits_zero_floor_is_plain_mean_kl():
    kl = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(0))
    assert float(free_bits_kl(kl, 0.0)) == pytest.approx(float(kl.mean(0).sum()), rel=1e-6)


@pytest.mark.parametrize("rate, direction", [(4.0, +1), (30.0, -1)])
def test_mdr_multiplier_ascends_below_target_and_descends_above(rate, direction):
    mdr = MinimumDesiredRate(target_rate=16.0)
    assert float(mdr.multiplier.detach()) == pytest.approx(1.0)
    rate_t = torch.tensor(rate, requires_grad=True)
    optimizer = torch.optim.SGD(mdr.parameters(), lr=0.05)
    history = [float(mdr.multiplier.detach())]
    for _ in range(5):
        optimizer.zero_grad()
        penalty = mdr.penalty(rate_t)
        assert float(penalty.detach()) == pytest.approx(history[-1] * (16.0 - rate), rel=1e-5)
        penalty.backward()
        optimizer.step()
        history.append(float(mdr.multiplier.detach()))
    steps = [b - a for a, b in zip(history, history[1:])]
    assert all(direction * s > 0 for s in steps), history
    assert min(history) >= 0.0
    # the model side still descends on the penalty: its gradient pushes the rate up
    assert float(rate_t.grad) < 0


def test_mdr_multiplier_stays_nonnegative_after_large_steps():
    mdr = MinimumDesiredRate(target_rate=1.0)
    optimizer = torch.optim.SGD(mdr.parameters(), lr=10.0)
    for _ in range(20):
        optimizer.zero_grad()
        mdr.penalty(torch.tensor(50.0)).backward()
        optimizer.step()
    assert 0.0 <= float(mdr.multiplier.detach()) < 1e-3


def test_cyclical_beta_schedule():
    values = [cyclical_beta(s, 8, cycles=2, ratio=0.5) for s in range(8)]
    assert values == pytest.approx([0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0])
    ramp = [cyclical_beta(s, 100, cycles=1, ratio=1.0) for s in range(100)]
    assert ramp[0] == 0.0 and ramp[50] == pytest.approx(0.5) and ramp == sorted(ramp)
    assert all(0.0 <= v <= 1.0 for v in (cyclical_beta(s, 10, cycles=3, ratio=0.3) for s in range(30)))
    assert cyclical_beta(5, 0) == 1.0 and cyclical_beta(5, 10, cycles=0) == 1.0
    assert cyclical_beta(3, 8, cycles=2, ratio=0.0) == 1.0
