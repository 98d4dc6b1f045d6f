"""EDM method: the shared conformance suite for each `train_on`, plus its data split."""

from __future__ import annotations

import pytest
import torch

from ambientsweep.config import TrialConfig
from ambientsweep.methods import (
    METHODS,
    Batch,
    Edm,
    EdmSpec,
    build_method,
    clean_noisy_split,
    edm_weight,
    pixel_mean,
    sample_sigmas,
)
from ambientsweep.models import build_denoiser
from ambientsweep.testing import MethodCases, tiny_config, tiny_corruption_input
from ambientsweep.testing.recording import check_edm_loss


class TestEdmClean(MethodCases):
    @pytest.fixture
    def method(self) -> Edm:
        return build_method(tiny_config(EdmSpec(train_on="clean")))  # type: ignore[return-value]


class TestEdmCleanFraction(MethodCases):
    @pytest.fixture
    def method(self) -> Edm:
        spec = EdmSpec(train_on="clean_fraction", clean_fraction=0.5)
        return build_method(tiny_config(spec))  # type: ignore[return-value]


class TestEdmNoisy(MethodCases):
    @pytest.fixture
    def method(self) -> Edm:
        spec = EdmSpec(train_on="noisy", clean_fraction=0.25, sigma=0.5)
        return build_method(tiny_config(spec))  # type: ignore[return-value]


class TestEdmMasked(MethodCases):
    loss_ignores_unobserved_pixels = False  # the naive baseline trains on the zeros

    @pytest.fixture
    def method(self) -> Edm:
        return build_method(tiny_config(EdmSpec(train_on="masked", p=0.5)))  # type: ignore[return-value]


def test_registry() -> None:
    assert METHODS["edm"] is Edm
    assert isinstance(build_method(TrialConfig()), Edm)


def test_clean_noisy_split_is_a_prefix() -> None:
    clean, noisy = clean_noisy_split(10, 0.25)
    assert clean.tolist() == [0, 1] and noisy.tolist() == list(range(2, 10))
    clean, noisy = clean_noisy_split(7, 1.0)
    assert len(clean) == 7 and len(noisy) == 0


def test_train_sets_follow_the_split() -> None:
    view = tiny_corruption_input(n=12)
    frac = build_method(tiny_config(EdmSpec(train_on="clean_fraction", clean_fraction=0.25)))
    noisy = build_method(tiny_config(EdmSpec(train_on="noisy", clean_fraction=0.25, sigma=0.7)))
    a, b = frac.train_sets(view)["train"], noisy.train_sets(view)["train"]
    assert a.index.tolist() == view.index[:3].tolist()
    assert b.index.tolist() == view.index[3:].tolist()
    torch.testing.assert_close(a.x, view.x[:3])
    assert b.sigma_n is not None and torch.all(b.sigma_n == 0.7)
    resid = (b.x - view.x[3:]) / 0.7
    assert abs(resid.std().item() - 1.0) < 0.2  # y = x + sigma n, n ~ N(0, I)
    torch.testing.assert_close(noisy.train_sets(view)["train"].x, b.x)  # frozen per image
    sets = noisy.memorization_sets()
    assert sets[""].tolist() == view.index.tolist()
    assert sets["_noisy"].tolist() == b.index.tolist()


def test_masked_observations_are_zero_where_erased() -> None:
    view = tiny_corruption_input()
    ts = build_method(tiny_config(EdmSpec(train_on="masked", p=0.5))).train_sets(view)["train"]
    assert ts.mask is not None
    assert torch.all(ts.x[ts.mask.expand_as(ts.x) == 0] == 0)
    assert 0.2 < ts.mask.mean().item() < 0.8


def test_loss_math() -> None:
    sigma = torch.tensor([0.1, 0.5, 3.0])
    expected = (sigma**2 + 0.25) / (sigma * 0.5) ** 2
    torch.testing.assert_close(edm_weight(sigma, 0.5), expected)
    assert pixel_mean(torch.ones(2, 3, 4, 4)).tolist() == [1.0, 1.0]
    g = torch.Generator().manual_seed(0)
    s = sample_sigmas(20000, -1.2, 1.2, generator=g, device=torch.device("cpu"))
    assert abs(s.log().mean().item() + 1.2) < 0.05 and abs(s.log().std().item() - 1.2) < 0.05


def test_loss_at_init_is_about_one() -> None:
    # Zero-initialised output: D = c_skip x, and lambda E||D - x||^2 = 1 per pixel for data
    # of variance sigma_data^2, whatever sigma (Karras et al. 2022, Sec. 5 / Appendix B.6).
    cfg = tiny_config(EdmSpec())
    method = build_method(cfg)
    net = build_denoiser(cfg.model, channels=1, resolution=8)
    g = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn(512, 1, 8, 8, generator=g)
    loss = method.loss(net, Batch(x=x, index=torch.arange(512)), g)
    assert abs(loss.mean().item() - 1.0) < 0.1


def test_default_sample_shape_and_range() -> None:
    cfg = tiny_config(EdmSpec())
    method = build_method(cfg)
    net = build_denoiser(cfg.model, channels=1, resolution=8).eval()
    out = method.sample(net, 5, torch.Generator().manual_seed(0))
    assert out.shape == (5, 1, 8, 8) and out.abs().max() <= 1.0


# ----------------------------------------------------------------------------------------------
# The loss against a brute-force reference written out from Karras et al. 2022 (Eq. 8, Table 1).


@pytest.mark.parametrize("train_on", ["clean", "clean_fraction"])
def test_loss_matches_the_brute_force_reference(train_on: str) -> None:
    p_mean, p_std = -0.5, 0.8
    method = build_method(
        tiny_config(EdmSpec(train_on=train_on), p_mean=p_mean, p_std=p_std)  # type: ignore[arg-type]
    )
    x0 = tiny_corruption_input(n=512).x
    check_edm_loss(method, x0, p_mean, p_std)
