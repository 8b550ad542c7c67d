"""Latent search (search.py): Adam and trust-region random search on synthetic objectives."""

import math

import pytest
import torch

from latentedit.search import adam_search, penalised, random_search

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIM = 8


def bowl(centre: torch.Tensor):
    """A bounded-below objective (>= 0) with its minimum at ``centre``: per-row ||z - c||^2."""
    return lambda z: (z - centre).pow(2).sum(-1)


def uphill(z: torch.Tensor) -> torch.Tensor:
    """An unbounded objective: lower is further along +x0 (only the proximity term stops it)."""
    return -z[:, 0]


def starts(n=3, seed=0):
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


def seeded(seed):
    return torch.Generator().manual_seed(seed)


# -- Adam ----------------------------------------------------------------------------------------


def test_adam_search_lowers_the_objective_and_returns_the_path():
    start, centre = starts(), torch.full((DIM,), 2.0)
    objective = bowl(centre)
    path = adam_search(start, objective, steps=60, lr=0.1, proximity=0.0, prior=0.0)
    assert path.shape == (61, 3, DIM)
    assert torch.equal(path[0], start)  # the path starts at the start, which is left untouched
    assert (objective(path[-1]) < 0.5 * objective(start)).all()
    assert not start.requires_grad and not path.requires_grad


def test_adam_search_lowers_the_penalised_loss_it_minimises():
    start = starts()
    loss = penalised(bowl(torch.full((DIM,), 3.0)), start, proximity=1.0, prior=0.1)
    path = adam_search(start, bowl(torch.full((DIM,), 3.0)), steps=80, lr=0.1, proximity=1.0, prior=0.1)
    assert (loss(path[-1]) < loss(start) - 1.0).all()


def test_adam_search_treats_rows_independently():
    start = starts(4)
    together = adam_search(start, uphill, steps=20, lr=0.05, proximity=1.0, prior=0.1)
    for i in range(4):
        alone = adam_search(start[i : i + 1], uphill, steps=20, lr=0.05, proximity=1.0, prior=0.1)
        assert torch.allclose(together[:, i], alone[:, 0], atol=1e-6)


def test_adam_search_is_deterministic():
    start = starts()
    a = adam_search(start, bowl(torch.ones(DIM)), steps=30, lr=0.1)
    b = adam_search(start, bowl(torch.ones(DIM)), steps=30, lr=0.1)
    assert torch.equal(a, b)


# -- random search -------------------------------------------------------------------------------


def test_random_search_improves_a_single_code_monotonically():
    start, centre = starts(1), torch.full((DIM,), 2.0)
    objective = bowl(centre)
    path = random_search(start, objective, steps=60, proximity=0.0, prior=0.0, generator=seeded(0))
    assert path.shape == (61, 1, DIM)
    assert torch.equal(path[0], start)
    values = objective(path[:, 0])  # (steps + 1,)
    assert (values[1:] <= values[:-1]).all()  # it only moves to improvements
    assert float(values[-1]) < 0.2 * float(values[0])


def test_random_search_same_seed_same_trajectory_other_seed_other_trajectory():
    start = starts(1)
    objective = bowl(torch.full((DIM,), 2.0))
    a = random_search(start, objective, steps=25, generator=seeded(7))
    b = random_search(start, objective, steps=25, generator=seeded(7))
    c = random_search(start, objective, steps=25, generator=seeded(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_random_search_on_a_batch_of_codes():
    start = starts(3)
    objective = bowl(torch.full((DIM,), 2.0))
    together = random_search(start, objective, steps=20, proximity=0.5, prior=0.0, generator=seeded(0))
    assert together.shape == (21, 3, DIM)
    loss = penalised(objective, start, proximity=0.5, prior=0.0)
    assert (loss(together[-1]) < loss(start)).all()


# -- proximity bounds the distance ----------------------------------------------------------------


def distance(path, start):
    return (path[-1] - start).norm(dim=-1)


@pytest.mark.parametrize("method", ["adam", "random"])
def test_larger_proximity_keeps_the_code_closer(method):
    start = starts(1)
    finals = []
    for proximity in (0.5, 2.0, 8.0, 32.0):
        if method == "adam":
            path = adam_search(start, uphill, steps=150, lr=0.1, proximity=proximity, prior=0.0)
        else:
            path = random_search(start, uphill, steps=150, proximity=proximity, prior=0.0, generator=seeded(0))
        finals.append(float(distance(path, start)))
    assert all(a > b for a, b in zip(finals, finals[1:])), finals
    # uphill + proximity * ||d||^2 / D is smallest at ||d|| = D / (2 proximity): the search gets near it
    assert finals[-1] == pytest.approx(DIM / (2 * 32.0), abs=0.03)
    assert finals[1] == pytest.approx(DIM / (2 * 2.0), rel=0.05)


def test_random_search_distance_is_bounded_by_the_proximity_penalty():
    """Random search only accepts points whose penalised loss is below the start's, so with an
    objective f >= 0 the final code obeys proximity * ||z - z0||^2 / D <= f(z0), i.e.
    ||z - z0|| <= sqrt(D * f(z0) / proximity)."""
    start = starts(1)
    objective = bowl(torch.full((DIM,), 3.0))
    f0 = float(objective(start))
    for proximity in (5.0, 50.0, 500.0):
        path = random_search(start, objective, steps=80, proximity=proximity, prior=0.0, generator=seeded(1))
        moved = (path[:, 0] - start[0]).norm(dim=-1)
        bound = math.sqrt(DIM * f0 / proximity)
        assert float(moved.max()) <= bound + 1e-5, (proximity, float(moved.max()), bound)
        assert float(moved[-1]) > 0  # it did move
    assert float(distance(path, start)) < 0.5  # the large proximity keeps it very close


def test_adam_distance_with_large_proximity_is_below_the_computed_bound():
    start = starts(2)
    proximity = 200.0
    path = adam_search(start, bowl(torch.full((DIM,), 3.0)), steps=100, lr=0.02, proximity=proximity, prior=0.0)
    f0 = bowl(torch.full((DIM,), 3.0))(start)
    bound = (DIM * f0 / proximity).sqrt()  # where the penalty alone exceeds the whole objective at the start
    final = distance(path, start)
    assert (final <= bound).all(), (final, bound)
    # the penalised bowl is smallest at distance ||c - z0|| / (1 + proximity / D)
    optimum = f0.sqrt() / (1 + proximity / DIM)
    assert torch.allclose(final, optimum, rtol=0.15), (final, optimum)
    free = adam_search(start, bowl(torch.full((DIM,), 3.0)), steps=100, lr=0.02, proximity=0.0, prior=0.0)
    assert (distance(free, start) > bound).all()  # without the penalty it goes further


def test_prior_pulls_codes_towards_the_origin():
    start = starts(2) + 4.0
    flat = lambda z: torch.zeros(z.shape[0])  # noqa: E731 - nothing to gain but the prior
    path = adam_search(start, flat, steps=100, lr=0.1, proximity=0.0, prior=1.0)
    assert (path[-1].norm(dim=-1) < 0.5 * start.norm(dim=-1)).all()
