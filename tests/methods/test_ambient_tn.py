"""High-noise ambient training (Shah et al. 2025): conformance, sigma_tn = 0, Gaussian toy."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

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


# ----------------------------------------------------------------------------------------------
# The real loss() against a brute-force reference (Shah et al. 2025, the loss of the paper code).


@pytest.mark.parametrize("weighting", ["edm", "x0"])
def test_loss_matches_the_brute_force_reference(weighting: str) -> None:
    """Recompute the loss from the network's recorded inputs and outputs, branch by branch.

    sigma < sigma_tn: target x0, input x0 + sigma n. sigma >= sigma_tn: target the frozen copy
    x_tn = x0 + sigma_tn eps (eps rebuilt here from the per-image noise table), input
    x_tn + sqrt(sigma^2 - sigma_tn^2) n, prediction y = a x + (1 - a) D, a = sigma_tn^2 /
    sigma^2. ln sigma is centred on ln sigma_tn so both branches hold about half the batch.
    """
    from ambientsweep.data.corruption import gaussian_noise
    from ambientsweep.testing.recording import RecordingDenoiser, perturbed

    sigma_tn = 0.4
    cfg = tiny_config(
        AmbientTnSpec(sigma_tn=sigma_tn, weighting=weighting), p_mean=math.log(sigma_tn), p_std=0.7
    )
    method = build_method(cfg)
    view = tiny_corruption_input(n=512)
    batch = method.train_sets(view)["train"].take(torch.arange(512))
    torch.manual_seed(0)
    net = RecordingDenoiser(perturbed(build_denoiser(cfg.model, channels=1, resolution=8)))
    loss = method.loss(net, batch, torch.Generator().manual_seed(3)).double()
    (call,) = net.calls
    sigma = call.sigma.double()
    x0 = batch.x.double()
    eps = gaussian_noise(
        batch.index, (1, 8, 8), seed=cfg.seed, replicate=cfg.replicate, salt="tn"
    ).double()
    ambient = sigma >= sigma_tn
    assert 150 < int(ambient.sum()) < 362  # both branches are exercised
    col = ambient.reshape(-1, 1, 1, 1)
    target = torch.where(col, x0 + sigma_tn * eps, x0)
    a = torch.where(ambient, sigma_tn**2 / sigma**2, torch.zeros_like(sigma)).reshape(-1, 1, 1, 1)
    x, d = call.x.double(), call.out.double()
    y_hat = a * x + (1 - a) * d
    lam = (sigma**2 + 0.25) / (sigma * 0.5) ** 2
    if weighting == "x0":
        lam = lam * (1 - a.flatten()).pow(-2).clamp_max(X0_WEIGHT_CAP)
    ref = lam * ((y_hat - target) ** 2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    # The input noise: standard normal once the branch's scale is divided out.
    scale = torch.where(ambient, (sigma**2 - sigma_tn**2).clamp_min(0).sqrt(), sigma)
    n = (x - target) / scale.reshape(-1, 1, 1, 1)
    for rows in (ambient, ~ambient):
        assert abs(n[rows].mean().item()) < 0.04
        assert abs(n[rows].std().item() - 1) < 0.04, n[rows].std().item()


# ----------------------------------------------------------------------------------------------
# The empirical minimiser with frozen noise (the module docstring's argument), on a tiny case.


class _Table(torch.nn.Module):
    """D(x; sigma) = table[bin of x]: a free value per bin of a 1-pixel input."""

    sigma_data = 0.5

    def __init__(self, edges: Tensor, value: float) -> None:
        super().__init__()
        self.edges = edges
        self.table = torch.nn.Parameter(torch.full((len(edges) + 1,), value, dtype=torch.float64))

    def forward(self, x: Tensor, sigma: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.table[torch.bucketize(x, self.edges)]


def _empirical_mixture_mean(x: Tensor, centres: Tensor, tau: float) -> Tensor:
    """E[c_I | x] for x = c_I + tau n, I uniform over `centres` (1-d)."""
    logits = -((x.reshape(-1, 1) - centres.reshape(1, -1)) ** 2) / (2 * tau**2)
    return (logits.softmax(dim=1) * centres.reshape(1, -1)).sum(dim=1).reshape(x.shape)


def test_frozen_noise_minimiser_is_the_smoothed_score_of_the_noisy_copies() -> None:
    """The ambient branch's exact empirical minimiser, found from the real loss().

    Three 1-pixel images, frozen copies x_tn = x0 + sigma_tn eps, one sigma > sigma_tn. The
    loss is quadratic in each bin value of a tabulated D, so one Newton step from the
    gradients of the real loss (at D = 0 and D = 1) gives its exact minimiser on the sample.
    It must equal D*(x) = x + sigma^2 grad log p_tau(x), p_tau the frozen copies smoothed by
    tau = sqrt(sigma^2 - sigma_tn^2), i.e. D* = (E[x_tn | x] - a x) / (1 - a) (module
    docstring) -- and differ from the clean images' empirical denoiser at sigma.
    """
    from ambientsweep.data.corruption import gaussian_noise

    sigma_tn, sigma = 0.3, 0.6
    x0 = torch.tensor([-0.8, 0.1, 0.7]).reshape(3, 1, 1, 1)
    ids = torch.tensor([5, 9, 14])
    cfg = tiny_config(AmbientTnSpec(sigma_tn=sigma_tn), p_mean=math.log(sigma), p_std=1e-6)
    method = build_method(cfg)
    method.train_sets(type(tiny_corruption_input())(x=x0, index=ids))
    reps = 400_000
    batch = Batch(x=x0.repeat(reps, 1, 1, 1), index=ids.repeat(reps))
    edges = torch.linspace(-1.2, 1.2, 25, dtype=torch.float64)

    def grad(value: float) -> Tensor:
        net = _Table(edges, value)
        method.loss(net, batch, torch.Generator().manual_seed(0)).sum().backward()
        assert net.table.grad is not None
        return net.table.grad

    g0, g1 = grad(0.0), grad(1.0)  # same draws: the loss is quadratic in every bin value
    minimiser = -g0 / (g1 - g0)

    # Recompute the draws' inputs to find each bin's samples (same generator, same order).
    g = torch.Generator().manual_seed(0)
    s = (cfg.train.p_mean + cfg.train.p_std * torch.randn(3 * reps, generator=g)).exp()
    n = torch.randn(batch.x.shape, generator=g)
    eps = gaussian_noise(ids, (1, 1, 1), seed=cfg.seed, replicate=cfg.replicate, salt="tn")
    copies = (x0 + sigma_tn * eps).flatten().double()
    x_tn = copies.repeat(reps)
    x = (x_tn + (s.double() ** 2 - sigma_tn**2).sqrt() * n.flatten().double()).float().double()
    a = sigma_tn**2 / sigma**2
    tau = math.sqrt(sigma**2 - sigma_tn**2)
    bins = torch.bucketize(x, edges)
    checked = 0
    for b in range(1, len(edges)):
        rows = bins == b
        if rows.sum() < 20_000:
            continue
        xb = x[rows]
        smoothed = (_empirical_mixture_mean(xb, copies, tau).mean() - a * xb.mean()) / (1 - a)
        clean = _empirical_mixture_mean(xb, x0.flatten().double(), sigma).mean()
        assert abs(minimiser[b].item() - smoothed.item()) < 0.02, (b, minimiser[b], smoothed)
        checked += 1
        if abs(smoothed - clean) > 0.1:
            assert abs(minimiser[b].item() - clean.item()) > 0.05
    assert checked >= 10


def test_a_perfect_fit_of_both_branches_memorizes_like_edm() -> None:
    """Sampling with the exact empirical minimisers of both branches returns training images.

    Above sigma_tn the implied score is that of the frozen copies smoothed by tau (previous
    test): the probability-flow ODE in tau lands on a copy x_tn at sigma = sigma_tn, and the
    clean branch's empirical denoiser then carries it to its image x0. So a network that fits
    both branches copies the training set, as plain EDM's empirical minimiser does.
    """
    from ambientsweep.sampling import heun, karras_sigmas

    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(20, 16, generator=g, dtype=torch.float64) * 2 - 1  # 20 images, 16 pixels
    sigma_tn = 0.2
    copies = x0 + sigma_tn * torch.randn(x0.shape, generator=g, dtype=torch.float64)

    def posterior_mean(x: Tensor, centres: Tensor, tau: float) -> Tensor:
        d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(dim=2)
        return (-d2 / (2 * tau**2)).softmax(dim=1) @ centres

    def ambient_tn_star(x: Tensor, sigma: Tensor) -> Tensor:
        s = float(sigma)
        if s < sigma_tn:
            return posterior_mean(x, x0, s)
        a = sigma_tn**2 / s**2
        tau = max(math.sqrt(s**2 - sigma_tn**2), 1e-6)
        return (posterior_mean(x, copies, tau) - a * x) / (1 - a)

    def edm_star(x: Tensor, sigma: Tensor) -> Tensor:
        return posterior_mean(x, x0, float(sigma))

    start = 80.0 * torch.randn(400, 16, generator=g, dtype=torch.float64)
    grid = karras_sigmas(256)
    for denoiser in (ambient_tn_star, edm_star):
        out = heun(denoiser, start, grid)
        nearest = torch.cdist(out, x0).min(dim=1).values
        assert (nearest < 0.05).float().mean() > 0.95, nearest.quantile(0.5)
