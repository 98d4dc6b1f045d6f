"""High-noise ambient training (Shah et al. 2025): conformance, sigma_tn = 0, Gaussian toy."""

from __future__ import annotations

import math

import pytest
import torch

from ambientsweep.methods import METHODS, AmbientTnSpec, Batch, EdmSpec, build_method, edm_weight
from ambientsweep.methods.ambient_tn.method import (
    X0_WEIGHT_CAP,
    AmbientTn,
    quantile_sigma,
    tweedie_a,
    x0_to_xtn,
)
from ambientsweep.models import build_denoiser
from ambientsweep.testing import MethodCases, tiny_config, tiny_corruption_input

torch.set_num_threads(1)


def _tn(**kw: object) -> AmbientTn:
    return build_method(tiny_config(AmbientTnSpec(**kw)))  # type: ignore[return-value]


class TestAmbientTn(MethodCases):
    @pytest.fixture
    def method(self) -> AmbientTn:
        return _tn(sigma_tn=0.5)


class TestAmbientTnFreshNoiseX0Weight(MethodCases):
    @pytest.fixture
    def method(self) -> AmbientTn:
        return _tn(sigma_tn=0.3, fixed_noise=False, weighting="x0")


class TestAmbientTnQuantile(MethodCases):
    @pytest.fixture
    def method(self) -> AmbientTn:
        return _tn(tn_quantile=0.5)


def _net(cfg_method: AmbientTn) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_denoiser(cfg_method.config.model, channels=1, resolution=8)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return net


def test_registry_and_cutoff() -> None:
    assert METHODS["ambient_tn"] is AmbientTn
    assert _tn(sigma_tn=0.7).sigma_tn == 0.7
    median = _tn(tn_quantile=0.5)  # the median of ln sigma ~ N(-1.2, 1.2^2)
    assert math.isclose(median.sigma_tn, math.exp(-1.2))
    assert quantile_sigma(0.0, -1.2, 1.2) == 0.0
    q = quantile_sigma(0.9, -1.2, 1.2)
    s = (-1.2 + 1.2 * torch.randn(200_000, generator=torch.Generator().manual_seed(0))).exp()
    assert abs((s < q).float().mean().item() - 0.9) < 0.005
    assert _tn(sigma_tn=0.7).tags()["ambient_tn.sigma_tn"] == "0.7"


@pytest.mark.parametrize("fixed_noise", [True, False])
@pytest.mark.parametrize("weighting", ["edm", "x0"])
def test_sigma_tn_zero_is_exactly_edm(fixed_noise: bool, weighting: str) -> None:
    method = _tn(sigma_tn=0.0, fixed_noise=fixed_noise, weighting=weighting)
    edm = build_method(tiny_config(EdmSpec()))
    view = tiny_corruption_input()
    batch = method.train_sets(view)["train"].take(torch.arange(8))
    net = _net(method)
    a = method.loss(net, batch, torch.Generator().manual_seed(11))
    b = edm.loss(net, Batch(x=batch.x, index=batch.index), torch.Generator().manual_seed(11))
    assert torch.equal(a, b)


def test_branches_split_at_sigma_tn() -> None:
    sigma = torch.tensor([0.1, 0.5, 0.5000001, 2.0])
    a = tweedie_a(sigma, 0.5)
    assert a[0] == 0 and a[1] == 1 and 0 < a[2] < 1
    torch.testing.assert_close(a[3], torch.tensor(0.0625))
    x, d = torch.randn(4, 3), torch.randn(4, 3)
    y = x0_to_xtn(x, d, a)
    torch.testing.assert_close(y[0], d[0])  # clean branch: the x0 prediction itself
    torch.testing.assert_close(y[1], x[1])  # at sigma = sigma_tn the input is x_tn


def test_noise_is_frozen_per_image_and_never_replaces_clean_images() -> None:
    method = _tn(sigma_tn=1.0)
    view = tiny_corruption_input()
    ts = method.train_sets(view)["train"]
    torch.testing.assert_close(ts.x, view.x)
    b1 = ts.take(torch.tensor([2, 4]))
    b2 = ts.take(torch.tensor([4, 2, 0]))
    e1 = method.noise_tn(b1, torch.Generator().manual_seed(0))
    e2 = method.noise_tn(b2, torch.Generator().manual_seed(1))
    assert torch.equal(e1[0], e2[1]) and torch.equal(e1[1], e2[0])
    assert not torch.equal(e1[0], e1[1])
    fresh = _tn(sigma_tn=1.0, fixed_noise=False)
    fresh.train_sets(view)
    f1 = fresh.noise_tn(b1, torch.Generator().manual_seed(0))
    assert not torch.equal(f1, fresh.noise_tn(b1, torch.Generator().manual_seed(1)))


def test_x0_weighting_is_capped() -> None:
    # At sigma just above sigma_tn the x0 factor 1/(1 - a)^2 would diverge.
    method = _tn(sigma_tn=0.5, weighting="x0")
    sigma = torch.tensor([0.5, 0.5001, 5.0])
    factor = (1 - tweedie_a(sigma, 0.5)).pow(-2).clamp_max(X0_WEIGHT_CAP)
    assert factor[0] == X0_WEIGHT_CAP and factor[1] == X0_WEIGHT_CAP
    torch.testing.assert_close(factor[2], torch.tensor(1 / (1 - 0.01) ** 2))
    batch = method.train_sets(tiny_corruption_input())["train"].take(torch.arange(4))
    assert torch.isfinite(method.loss(_net(method), batch, torch.Generator())).all()
    assert torch.all(edm_weight(sigma, 0.5) > 0)


def test_gaussian_toy_minimiser_is_the_clean_posterior_mean() -> None:
    """Least-squares fit of a linear denoiser D(x) = alpha + beta x to the ambient-branch loss.

    x0 ~ N(mu, s^2), x_tn = x0 + sigma_tn eps, x_sigma = x_tn + sqrt(sigma^2 - sigma_tn^2) n.
    The regression target is x_tn, through ``x0_to_xtn``; the fitted D must be the clean
    posterior mean mu + (x - mu) s^2 / (s^2 + sigma^2), not the noisy one (s^2 + sigma_tn^2).
    """
    g = torch.Generator().manual_seed(0)
    m, mu, s, sigma_tn, sigma = 400_000, 0.3, 0.5, 1.0, 1.5
    x0 = mu + s * torch.randn(m, 1, generator=g, dtype=torch.float64)
    x_tn = x0 + sigma_tn * torch.randn(m, 1, generator=g, dtype=torch.float64)
    sig = torch.full((m,), sigma, dtype=torch.float64)
    a = tweedie_a(sig, sigma_tn)
    x = x_tn + (sigma * (1 - a).sqrt()).reshape(-1, 1) * torch.randn(
        m, 1, generator=g, dtype=torch.float64
    )
    # y_hat(alpha, beta) = x0_to_xtn(x, alpha + beta x) is affine in (alpha, beta)
    base = x0_to_xtn(x, torch.zeros_like(x), a)
    design = torch.cat(
        [x0_to_xtn(x, torch.ones_like(x), a) - base, x0_to_xtn(x, x, a) - base], dim=1
    )
    alpha, beta = torch.linalg.lstsq(design, x_tn - base).solution.flatten().tolist()
    clean = s**2 / (s**2 + sigma**2)
    noisy = (s**2 + sigma_tn**2) / (s**2 + sigma_tn**2 + sigma**2)
    assert abs(beta - clean) < 0.01, (beta, clean)
    assert abs(alpha - mu * (1 - clean)) < 0.01
    assert abs(beta - noisy) > 0.2
    # sanity: a plain clean-target regression at the same sigma gives the same minimiser
    x_clean = x0 + sigma * torch.randn(m, 1, generator=g, dtype=torch.float64)
    design2 = torch.cat([torch.ones_like(x_clean), x_clean], dim=1)
    beta2 = torch.linalg.lstsq(design2, x0).solution[1].item()
    assert abs(beta2 - clean) < 0.01
