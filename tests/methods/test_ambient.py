"""Ambient Diffusion (Daras et al. 2023): conformance, the p = delta = 0 limit, the masks."""

from __future__ import annotations

import pytest
import torch

from ambientsweep.config import SamplerConfig
from ambientsweep.methods import METHODS, AmbientSpec, Batch, EdmSpec, build_method, edm_loss
from ambientsweep.methods.ambient.method import Ambient, masked_denoise, masked_pixel_mean
from ambientsweep.metrics.holes import holes_contrast
from ambientsweep.models import build_denoiser
from ambientsweep.testing import MethodCases, tiny_config, tiny_corruption_input

torch.set_num_threads(1)


def _ambient(**kw: object) -> Ambient:
    return build_method(tiny_config(AmbientSpec(**kw)))  # type: ignore[return-value]


class TestAmbient(MethodCases):
    @pytest.fixture
    def method(self) -> Ambient:
        return _ambient(p=0.4, delta=0.1)


class TestAmbientRedrawDelta(MethodCases):
    @pytest.fixture
    def method(self) -> Ambient:
        return _ambient(p=0.4, delta=0.2, redraw_delta=True)


class TestAmbientNaive(MethodCases):
    @pytest.fixture
    def method(self) -> Ambient:
        return _ambient(p=0.5, delta=0.0)


def _perturb(net: torch.nn.Module, seed: int = 7) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


def test_registry_and_tags() -> None:
    assert METHODS["ambient"] is Ambient
    assert _ambient(p=0.4, delta=0.0).tags()["ambient.naive"] == "true"
    assert _ambient(p=0.4, delta=0.1).tags()["ambient.naive"] == "false"
    assert _ambient(p=0.4, delta=0.1).extra_channels == 1


def test_p0_delta0_equals_edm_loss() -> None:
    """At p = delta = 0 every pixel is observed and shown: the loss is the edm loss.

    What differs: the ambient denoiser has one extra input channel (the mask, all ones here).
    (1) With ``mask_precond: unscaled``, on the same network, with the all-ones mask passed to
    ``edm_loss`` as `cond`, the two losses are identical. (2) Against an ``edm`` network without
    the extra channel, they are equal (for the default c_in-scaled mask too) once the mask
    channel's input weights are zero; every other weight is shared.
    """
    cfg = tiny_config(AmbientSpec(p=0.0, delta=0.0))
    method = build_method(cfg)
    view = tiny_corruption_input()
    ts = method.train_sets(view)["train"]
    assert ts.mask is not None and bool(ts.mask.all())
    batch = ts.take(torch.arange(8))
    net = build_denoiser(cfg.model, channels=1, resolution=8, extra_channels=1)
    _perturb(net)
    unscaled = build_method(tiny_config(AmbientSpec(p=0.0, delta=0.0, mask_precond="unscaled")))
    unscaled.train_sets(view)
    loss = unscaled.loss(net, batch, torch.Generator().manual_seed(3))
    assert not torch.equal(loss, method.loss(net, batch, torch.Generator().manual_seed(3)))
    t = cfg.train
    ones = torch.ones_like(batch.mask)
    same_net = edm_loss(
        net,
        batch.x,
        p_mean=t.p_mean,
        p_std=t.p_std,
        generator=torch.Generator().manual_seed(3),
        cond=ones,
    )
    assert torch.equal(loss, same_net)

    plain = build_denoiser(cfg.model, channels=1, resolution=8)
    state = net.state_dict()
    w = state["backbone.inp.weight"]  # MLP input layer over the flattened [C + 1, H, W] input
    with torch.no_grad():
        w[:, 64:] = 0.0  # the mask channel's weights
        net.load_state_dict(state)
        state = {**state, "backbone.inp.weight": w[:, :64].clone()}
    plain.load_state_dict(state)
    loss = method.loss(net, batch, torch.Generator().manual_seed(3))
    edm = build_method(tiny_config(EdmSpec()))
    reference = edm.loss(
        plain, Batch(x=batch.x, index=batch.index), torch.Generator().manual_seed(3)
    )
    torch.testing.assert_close(loss, reference, rtol=1e-6, atol=1e-7)


def test_mask_statistics() -> None:
    p, delta = 0.6, 0.25
    method = _ambient(p=p, delta=delta)
    view = tiny_corruption_input(n=400, channels=3)
    ts = method.train_sets(view)["train"]
    assert ts.mask is not None and ts.mask.shape == (400, 1, 8, 8)
    a = ts.mask
    assert abs(a.mean().item() - (1 - p)) < 0.02
    # one draw per pixel, shared across channels; erased values are 0, the others untouched
    assert torch.all(ts.x[(a == 0).expand_as(ts.x)] == 0)
    torch.testing.assert_close(ts.x * a, view.x * a)
    b = method.further_mask(ts.take(torch.arange(400)), torch.Generator().manual_seed(0))
    shown = a * b
    assert abs(shown.mean().item() - (1 - p) * (1 - delta)) < 0.02
    assert abs((shown.sum() / a.sum()).item() - (1 - delta)) < 0.02
    assert torch.all(shown <= a)


def test_masks_are_frozen_per_image() -> None:
    view = tiny_corruption_input(n=12)
    m1, m2 = _ambient(p=0.5, delta=0.3), _ambient(p=0.5, delta=0.3)
    s1, s2 = m1.train_sets(view)["train"], m2.train_sets(view)["train"]
    assert s1.mask is not None and torch.equal(s1.mask, s2.mask)
    # B depends on the image id only: same rows whatever the batch order or the generator
    batch = s1.take(torch.tensor([5, 0, 7]))
    rev = s1.take(torch.tensor([7, 0, 5]))
    b = m1.further_mask(batch, torch.Generator().manual_seed(0))
    assert torch.equal(b, m2.further_mask(batch, torch.Generator().manual_seed(1)))
    assert torch.equal(b.flip(0), m1.further_mask(rev, torch.Generator().manual_seed(2)))
    # a subset keeps each image's masks
    sub = m1.train_sets(type(view)(x=view.x[3:9], index=view.index[3:9]))["train"]
    assert sub.mask is not None and torch.equal(sub.mask, s1.mask[3:9])
    # redraw_delta: B changes with the training generator
    r = _ambient(p=0.5, delta=0.3, redraw_delta=True)
    rb = r.train_sets(view)["train"].take(torch.arange(12))
    b1 = r.further_mask(rb, torch.Generator().manual_seed(0))
    assert not torch.equal(b1, r.further_mask(rb, torch.Generator().manual_seed(1)))


def test_loss_ignores_hidden_pixels_of_the_input_but_supervises_them() -> None:
    cfg = tiny_config(AmbientSpec(p=0.3, delta=0.3))
    method = build_method(cfg)
    ts = method.train_sets(tiny_corruption_input())["train"]
    net = build_denoiser(cfg.model, channels=1, resolution=8, extra_channels=1)
    _perturb(net)
    x = torch.randn(4, 1, 8, 8)
    mask = (torch.rand(4, 1, 8, 8) > 0.5).float()
    sigma = torch.full((4,), 0.7)
    junk = torch.where(mask.bool(), x, torch.randn_like(x) * 5)
    torch.testing.assert_close(
        masked_denoise(net, x, sigma, mask), masked_denoise(net, junk, sigma, mask)
    )
    # the error at pixels of A hidden by B enters the loss
    batch = ts.take(torch.arange(4))
    assert batch.mask is not None
    err = torch.ones(4, 1, 8, 8)
    torch.testing.assert_close(masked_pixel_mean(err, batch.mask), torch.ones(4))
    hidden = batch.mask * (1 - method.further_mask(batch, torch.Generator()))
    assert hidden.sum() > 0


def test_fixed_mask_sampling() -> None:
    p, delta = 0.5, 0.2
    cfg = tiny_config(AmbientSpec(p=p, delta=delta))
    cfg = cfg.model_copy(update={"sampler": SamplerConfig(steps=3)})
    method = build_method(cfg)
    net = build_denoiser(cfg.model, channels=1, resolution=8, extra_channels=1).eval()
    seen: list[torch.Tensor] = []
    forward = net.forward

    def spy(
        x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        assert cond is not None
        c_in = 1 / (float(sigma) ** 2 + 0.25) ** 0.5  # the mask channel is c_in * A~
        ratio = cond / c_in
        assert torch.allclose(ratio, ratio.round(), atol=1e-5)
        seen.append(ratio.round())
        return forward(x, sigma, cond)

    net.forward = spy  # type: ignore[method-assign]
    out = method.sample(net, 500, torch.Generator().manual_seed(0))
    assert out.shape == (500, 1, 8, 8) and torch.isfinite(out).all()
    assert len(seen) == 5  # Heun on 3 points: 2 + 2 + 1 evaluations
    assert set(seen[0].unique().tolist()) == {0.0, 1.0}
    assert all(torch.equal(m, seen[0]) for m in seen)
    assert abs(seen[0].mean().item() - (1 - p) * (1 - delta)) < 0.02
    again = method.sample(net, 500, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_sample_metrics_score_the_masks_of_the_last_samples() -> None:
    cfg = tiny_config(AmbientSpec(p=0.5, delta=0.2))
    cfg = cfg.model_copy(update={"sampler": SamplerConfig(steps=3)})
    method = build_method(cfg)
    net = build_denoiser(cfg.model, channels=1, resolution=8, extra_channels=1).eval()
    assert method.sample_metrics(torch.zeros(8, 1, 8, 8)) == {}  # nothing sampled yet
    out = method.sample(net, 64, torch.Generator().manual_seed(0))
    shown = method._last_shown
    assert shown is not None and shown.shape == (64, 1, 8, 8)
    got = method.sample_metrics(out)
    assert got == {"holes_contrast": holes_contrast(out, shown)}
    assert method.sample_metrics(out[:10]) == {}  # not the batch that was sampled


def test_trial_reports_holes_contrast(tmp_path) -> None:
    import yaml

    from ambientsweep.config import TrialConfig
    from ambientsweep.tracking.reporter import ListReporter
    from ambientsweep.trial import run_trial
    from tests.conftest import TINY_BASE

    raw = yaml.safe_load(TINY_BASE)
    raw["method"] = {"kind": "ambient", "p": 0.4, "delta": 0.1}
    reporter = ListReporter()
    run_trial(TrialConfig.model_validate(raw), reporter, tmp_path / "trial",
              cache_dir=tmp_path / "cache")
    assert 0.0 < reporter.last("holes_contrast") < 10.0


# ----------------------------------------------------------------------------------------------
# The real loss() against a brute-force reference (Daras et al. 2023; EDM preconditioning).


def _scalings(sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """c_skip, c_out, c_in of Karras et al. 2022 (Table 1), sigma_d = 0.5, written out."""
    s = sigma.double().reshape(-1, 1, 1, 1)
    return 0.25 / (s**2 + 0.25), s * 0.5 / (s**2 + 0.25).sqrt(), 1 / (s**2 + 0.25).sqrt()


@pytest.mark.parametrize("mask_precond", ["c_in", "unscaled"])
def test_loss_matches_the_brute_force_reference(mask_precond: str) -> None:
    """Recompute J = lambda(sigma) mean_A (h - x0)^2 from what the network saw and returned.

    A and B are rebuilt here from the per-image mask tables; the network must get A~ x_t with
    A~ = B A (scaled by c_in as the mask channel when mask_precond = c_in); the prediction h is
    D where A~ = 1 and sigma_d F (F = (D - c_skip A~ x_t) / c_out) where A~ = 0; the loss is
    taken over A, hidden pixels of A~ included, normalised by C |A|.
    """
    from ambientsweep.data.corruption import erase_mask
    from ambientsweep.testing.recording import RecordingDenoiser, perturbed

    p, delta = 0.3, 0.5
    cfg = tiny_config(AmbientSpec(p=p, delta=delta, mask_precond=mask_precond))
    method = build_method(cfg)
    view = tiny_corruption_input(n=256)
    batch = method.train_sets(view)["train"].take(torch.arange(256))
    torch.manual_seed(0)
    net = RecordingDenoiser(
        perturbed(build_denoiser(cfg.model, channels=1, resolution=8, extra_channels=1))
    )
    loss = method.loss(net, batch, torch.Generator().manual_seed(5)).double()
    (call,) = net.calls
    a_mask = erase_mask(batch.index, (8, 8), p, seed=cfg.seed, replicate=cfg.replicate, salt="A")
    b_mask = erase_mask(
        batch.index, (8, 8), delta, seed=cfg.seed, replicate=cfg.replicate, salt="B"
    )
    a_mask, shown = a_mask.double(), (a_mask * b_mask).double()
    assert ((a_mask - shown).sum(dim=(1, 2, 3)) > 0).float().mean() > 0.9  # A~ < A: B hides
    c_skip, c_out, c_in = _scalings(call.sigma)
    assert call.cond is not None
    expected_cond = c_in * shown if mask_precond == "c_in" else shown
    torch.testing.assert_close(call.cond.double(), expected_cond, rtol=1e-6, atol=1e-7)
    x0, x, d = view.x[:256].double(), call.x.double(), call.out.double()
    assert torch.all(x[(shown == 0).expand_as(x)] == 0)  # hidden pixels are zeroed
    n = ((x - x0) / call.sigma.double().reshape(-1, 1, 1, 1))[(shown == 1).expand_as(x)]
    assert abs(n.mean().item()) < 0.04 and abs(n.std().item() - 1) < 0.04
    f = (d - c_skip * x) / c_out
    h = shown * d + (1 - shown) * 0.5 * f
    sigma = call.sigma.double()
    lam = (sigma**2 + 0.25) / (sigma * 0.5) ** 2
    ref = lam * (a_mask * (h - x0) ** 2).sum(dim=(1, 2, 3)) / a_mask.sum(dim=(1, 2, 3))
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)


class _Probe(torch.nn.Module):
    """Backbone that records its input and returns a constant (so D is known in closed form)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.inputs: list[torch.Tensor] = []
        self.c_noise: list[torch.Tensor] = []
        self.weight = torch.nn.Parameter(torch.zeros(()))  # sample() asks for a parameter

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        self.c_noise.append(c_noise.detach().clone())
        return torch.full((x.shape[0], 1, *x.shape[2:]), self.value) + 0 * self.weight


def _probe_net(value: float) -> tuple[torch.nn.Module, _Probe]:
    from ambientsweep.models import Denoiser

    probe = _Probe(value)
    return Denoiser(probe, channels=1, resolution=8, extra_channels=1), probe


@pytest.mark.parametrize("mask_precond", ["c_in", "unscaled"])
def test_mask_channel_is_scaled_by_c_in_as_published(mask_precond: str) -> None:
    """Official EDMPrecond: F(c_in [A~ x, A~]); the mask enters at 1/sqrt(sigma^2 + sigma_d^2)."""
    net, probe = _probe_net(0.0)
    x = torch.randn(3, 1, 8, 8)
    mask = (torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.4).float()
    sigma = torch.tensor([0.01, 1.0, 80.0])
    masked_denoise(net, x, sigma, mask, mask_precond=mask_precond)  # type: ignore[arg-type]
    (inp,) = probe.inputs
    _, _, c_in = _scalings(sigma)
    torch.testing.assert_close(inp[:, :1].double(), c_in * mask * x, rtol=1e-6, atol=1e-7)
    want = c_in * mask if mask_precond == "c_in" else mask.double()
    torch.testing.assert_close(inp[:, 1:].double(), want, rtol=1e-6, atol=1e-7)
    if mask_precond == "c_in":
        assert abs(inp[2, 1:].max().item() - 1 / (80.0**2 + 0.25) ** 0.5) < 1e-6  # 0.0125


def test_the_default_is_c_in_and_the_loss_uses_the_spec() -> None:
    assert AmbientSpec().mask_precond == "c_in" and AmbientSpec().clip_denoised
    for precond in ("c_in", "unscaled"):
        method = _ambient(p=0.3, delta=0.2, mask_precond=precond)
        batch = method.train_sets(tiny_corruption_input())["train"].take(torch.arange(4))
        net, probe = _probe_net(0.0)
        method.loss(net, batch, torch.Generator().manual_seed(0))
        (inp,) = probe.inputs
        top = inp[:, 1:].amax(dim=(1, 2, 3)).double()  # the c_in (or 1) of each row
        if precond == "c_in":
            sigma = (4 * probe.c_noise[0].double()).exp()  # c_noise = ln(sigma) / 4
            torch.testing.assert_close(top, 1 / (sigma**2 + 0.25).sqrt())
            assert not torch.all(top == 1.0)
        else:
            assert torch.all(top == 1.0)
        assert method.tags()["ambient.mask_precond"] == precond


@pytest.mark.parametrize("clip", [True, False])
def test_fixed_mask_sampler_clips_the_denoiser_output_every_step(clip: bool) -> None:
    """Official eval.py: x0 predictions clipped to [-1, 1] at every step (not just the end).

    A backbone that always returns 4 predicts sigma_d * 4 = 2 at hidden pixels (and more than
    1 at observed ones at low noise). The last Heun step to sigma = 0 returns the prediction
    itself, so with the final clamp off the samples stay within [-1, 1] only if every
    prediction was clipped; and each step then moves x toward a point inside [-1, 1].
    """
    cfg = tiny_config(AmbientSpec(p=0.5, delta=0.2, clip_denoised=clip))
    cfg = cfg.model_copy(update={"sampler": SamplerConfig(steps=6, clip=False)})
    method = build_method(cfg)
    net, _ = _probe_net(4.0)
    out = method.sample(net, 64, torch.Generator().manual_seed(0))
    if clip:
        assert out.abs().max() <= 1.0
        torch.testing.assert_close(out, torch.ones_like(out))  # clip(D) = 1 everywhere
    else:
        assert out.max() > 1.5
    assert method.tags()["ambient.clip_denoised"] == str(clip).lower()
