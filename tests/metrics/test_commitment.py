"""Commitment noise level: the hand-computed rule, and a real Heun run on known denoisers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from ambientsweep.metrics.commitment import (
    DenoiserCalls,
    commitment,
    commitment_sigmas,
)
from ambientsweep.sampling.schedules import karras_sigmas
from ambientsweep.sampling.solvers import heun


def test_commitment_sigma_is_where_the_neighbour_stops_changing() -> None:
    sigmas = np.array([80.0, 10.0, 10.0, 2.0, 2.0, 0.5])
    nn = np.array([[0, 1, 2, 3],
                   [0, 1, 2, 3],
                   [0, 0, 2, 3],
                   [0, 1, 1, 3],
                   [0, 1, 1, 3],
                   [0, 1, 1, 2]])
    final = np.array([0, 1, 1, 3])
    # sample 0 agrees from the first call; 1 after its last disagreement (call 2); 2 from call
    # 3; 3 disagrees at the very last call, so only the sample itself agrees (0).
    np.testing.assert_array_equal(commitment_sigmas(sigmas, nn, final), [80.0, 2.0, 2.0, 0.0])


def test_commitment_sigmas_rejects_shapes_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        commitment_sigmas(np.ones(3), np.zeros((2, 4), int), np.zeros(4, int))


class _Empirical(torch.nn.Module):
    """The optimal denoiser of the empirical distribution of `train` (a perfect copier):
    D(x; sigma) = sum_i softmax_i(-|x - x_i|^2 / 2 sigma^2) x_i."""

    def __init__(self, train: Tensor) -> None:
        super().__init__()
        self.images = train.double()

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        d2 = torch.cdist(x.flatten(1).double(), self.images.flatten(1)) ** 2
        w = torch.softmax(-d2 / (2 * float(sigma) ** 2), dim=1)
        return (w @ self.images.flatten(1)).reshape(x.shape).float()


class _Constant(torch.nn.Module):
    """Always predicts one training image."""

    def __init__(self, image: Tensor) -> None:
        super().__init__()
        self.image = image

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.image.expand_as(x).clone()


def _sample(net: torch.nn.Module, n: int, steps: int = 12) -> tuple[Tensor, Tensor]:
    sigmas = karras_sigmas(steps, sigma_min=0.002, sigma_max=20.0, rho=7.0)
    gen = torch.Generator().manual_seed(0)
    x = sigmas[0] * torch.randn((n, 1, 4, 4), generator=gen)
    return heun(lambda x_, s: net(x_, s), x, sigmas), sigmas


def test_recorded_calls_follow_heun_and_end_at_the_sample() -> None:
    train = torch.randn((6, 1, 4, 4), generator=torch.Generator().manual_seed(1))
    net = _Empirical(train)
    with DenoiserCalls(net) as calls:
        x, sigmas = _sample(net, 32)
    grid = sigmas.tolist()
    assert len(calls.sigmas) == 2 * (len(grid) - 1) - 1  # Heun: 2 calls a step, last is Euler
    assert calls.sigmas == sorted(calls.sigmas, reverse=True)
    torch.testing.assert_close(calls.outputs[-1], x)  # the final Euler step lands on D
    c = commitment(calls, x, train)
    # A perfect copier memorizes every sample, and each copy is decided at some sigma > 0,
    # never later than at the last call.
    assert c.memorized.all()
    assert (c.commit_sigma > 0).all() and (c.commit_sigma <= grid[0] * (1 + 1e-6)).all()
    assert 0.0 < c.share_committed_above(1.0) <= 1.0
    assert c.share_committed_above(grid[0] * 2) == 0.0
    net.eval()  # the hook is gone after the block: no more calls recorded
    net(x, torch.tensor(1.0))
    assert len(calls.outputs) == 2 * (len(grid) - 1) - 1


def test_a_denoiser_that_always_names_one_image_commits_at_the_first_call() -> None:
    train = torch.randn((5, 1, 4, 4), generator=torch.Generator().manual_seed(2))
    net = _Constant(train[3:4])
    with DenoiserCalls(net) as calls:
        x, sigmas = _sample(net, 8)
    c = commitment(calls, x, train)
    assert (c.final_nn == 3).all() and c.memorized.all()
    np.testing.assert_allclose(c.commit_sigma, float(sigmas[0]))


def test_commitment_needs_recorded_calls() -> None:
    net = _Constant(torch.zeros((1, 1, 4, 4)))
    with DenoiserCalls(net) as calls:
        pass
    with pytest.raises(ValueError, match="no denoiser call"):
        commitment(calls, torch.zeros((2, 1, 4, 4)), torch.randn((3, 1, 4, 4)))
