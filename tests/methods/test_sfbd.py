"""SFBD (Lu et al., ICML 2025): conformance, the backward step on a Gaussian toy, no leak of the
noisy images' originals, and the phase schedule run by the shared Trainer."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import Tensor

from ambientsweep.config import EvalConfig, SamplerConfig, TrialConfig
from ambientsweep.methods import METHODS, ActionContext, Batch, SfbdSpec, TrainSet, build_method
from ambientsweep.methods.sfbd.method import (
    Sfbd,
    backward_sigmas,
    denoise_observations,
    sde_sigmas,
)
from ambientsweep.testing import MethodCases, tiny_config, tiny_corruption_input
from ambientsweep.testing.recording import check_edm_loss
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.training import EvalPoint, NoHooks, Trainer

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _spec(**kw: Any) -> SfbdSpec:
    base: dict[str, Any] = {
        "clean_fraction": 0.25,
        "sigma": 0.5,
        "rounds": 2,
        "pretrain_kimg": 0.008,
        "round_kimg": 0.004,
        "denoise_steps": 6,
    }
    return SfbdSpec(**{**base, **kw})


def _sfbd(**kw: Any) -> Sfbd:
    return build_method(tiny_config(_spec(**kw)))  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------
# (1) The shared conformance suite.


class TestSfbd(MethodCases):
    @pytest.fixture
    def method(self) -> Sfbd:
        return _sfbd()


class TestSfbdUnionSde(MethodCases):
    @pytest.fixture
    def method(self) -> Sfbd:
        return _sfbd(union=True, stochastic=True, denoise_images=3)


def test_registry_and_tags() -> None:
    assert METHODS["sfbd"] is Sfbd
    method = _sfbd(stochastic=True, union=True)
    assert method.tags()["sfbd.clean_images"] == "3"  # from data.train_size = 12, before data
    method.train_sets(tiny_corruption_input(n=12))
    assert method.tags() == {
        "sfbd.backward": "sde",
        "sfbd.union": "true",
        "sfbd.transfer": "ema",  # the official rule, the default
        "sfbd.sde": "heun/32",
        "sfbd.clean_images": "3",
    }
    assert _sfbd().tags()["sfbd.backward"] == "ode"
    assert "sfbd.sde" not in _sfbd().tags()
    assert _sfbd(transfer="raw").tags()["sfbd.transfer"] == "raw"


def test_train_sets_follow_the_shared_split_and_noise_is_frozen() -> None:
    view = tiny_corruption_input(n=12)
    sets = _sfbd().train_sets(view)
    clean, noisy = sets["clean"], sets["noisy"]
    assert set(sets) == {"clean", "noisy"}
    assert clean.index.tolist() == view.index[:3].tolist()  # round(0.25 * 12) = 3, a prefix
    assert noisy.index.tolist() == view.index[3:].tolist()
    torch.testing.assert_close(clean.x, view.x[:3])
    assert noisy.sigma_n is not None and torch.all(noisy.sigma_n == 0.5)
    resid = (noisy.x - view.x[3:]) / 0.5
    assert abs(resid.std().item() - 1.0) < 0.2  # y = x + sigma n
    # Frozen per image id: another instance, or the ids in another order, give the same y.
    torch.testing.assert_close(_sfbd().train_sets(view)["noisy"].x, noisy.x)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    other = _sfbd(clean_fraction=0.5).train_sets(
        type(view)(x=view.x[perm], index=view.index[perm])
    )["noisy"]
    pos = {int(i): r for r, i in enumerate(noisy.index.tolist())}
    shared = [(row, pos[i]) for row, i in enumerate(other.index.tolist()) if i in pos]
    assert len(shared) >= 3
    for row, mine in shared:
        torch.testing.assert_close(other.x[row], noisy.x[mine])


def test_memorization_sets() -> None:
    view = tiny_corruption_input(n=12)
    method = _sfbd()
    with pytest.raises(RuntimeError):
        method.memorization_sets()
    method.train_sets(view)
    sets = method.memorization_sets()
    assert sets[""].tolist() == view.index.tolist()
    assert sets["_clean"].tolist() == view.index[:3].tolist()
    assert sets["_noisy"].tolist() == view.index[3:].tolist()


def test_degenerate_splits_are_errors() -> None:
    view = tiny_corruption_input(n=12)
    with pytest.raises(ValueError, match="no clean image"):
        _sfbd(clean_fraction=0.01).train_sets(view)
    with pytest.raises(ValueError, match="no noisy image"):
        _sfbd(clean_fraction=1.0).train_sets(view)
    assert set(_sfbd(clean_fraction=1.0, rounds=0).train_sets(view)) == {"clean"}


# ----------------------------------------------------------------------------------------------
# (2) The backward step on x ~ N(mu, s^2), y = x + sigma n, with the exact denoiser
#     D(x; t) = mu + (x - mu) s^2 / (s^2 + t^2). Expected values are closed forms.

MU, S, SIGMA = 0.3, 0.5, 0.59


def _exact_denoiser(x: Tensor, t: Tensor) -> Tensor:
    t2 = float(t) ** 2
    return MU + (x - MU) * S**2 / (S**2 + t2)


def test_grid_starts_exactly_at_sigma_and_uses_the_points_below() -> None:
    # Karras et al. 2022, Eq. 5 with EDM's defaults; 18 points put 0.5853 just below 0.59.
    full = [(80 ** (1 / 7) + i / 17 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7 for i in range(18)]
    grid = backward_sigmas(SIGMA, 18, SamplerConfig()).tolist()
    assert grid[0] == SIGMA and grid[-1] == 0.0
    assert grid[1:-1] == pytest.approx([v for v in full if v < SIGMA])
    assert len(grid) == 9 and grid[1] == pytest.approx(0.5853, abs=1e-4)


def test_ode_backward_step_transports_the_noisy_marginal_onto_the_clean_one() -> None:
    # Probability-flow ODE: x - mu scales with sqrt(s^2 + t^2), so y -> mu + (y - mu) s / sqrt(s^2
    # + sigma^2) (not the posterior mean mu + (y - mu) s^2 / (s^2 + sigma^2)).
    y = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64).reshape(9, 1)
    sigmas = backward_sigmas(SIGMA, 100, SamplerConfig())
    out = denoise_observations(
        _exact_denoiser, y, sigmas, stochastic=False, generator=torch.Generator()
    )
    expected = MU + (y - MU) * S / math.sqrt(S**2 + SIGMA**2)
    torch.testing.assert_close(out, expected, atol=2e-3, rtol=0)
    posterior_mean = MU + (y - MU) * S**2 / (S**2 + SIGMA**2)
    assert (out - posterior_mean).abs().max() > 0.05


def test_ode_backward_step_is_deterministic_and_batched() -> None:
    y = torch.linspace(-2.0, 2.0, 10, dtype=torch.float64).reshape(10, 1)
    sigmas = backward_sigmas(SIGMA, 18, SamplerConfig())
    whole = denoise_observations(
        _exact_denoiser, y, sigmas, stochastic=False, generator=torch.Generator()
    )
    chunked = denoise_observations(
        _exact_denoiser, y, sigmas, stochastic=False, generator=torch.Generator(), chunk=3
    )
    torch.testing.assert_close(whole, chunked)


def test_sde_backward_step_samples_the_posterior() -> None:
    y0, n = 1.5, 20000
    y = torch.full((n, 1), y0, dtype=torch.float64)
    sigmas = backward_sigmas(SIGMA, 1000, SamplerConfig())  # Euler-Maruyama: many small steps
    out = denoise_observations(
        _exact_denoiser, y, sigmas, stochastic=True, generator=torch.Generator().manual_seed(0)
    )
    mean = MU + S**2 / (S**2 + SIGMA**2) * (y0 - MU)
    var = S**2 * SIGMA**2 / (S**2 + SIGMA**2)
    assert abs(out.mean().item() - mean) < 4 * math.sqrt(var / n) + 2e-3
    assert abs(out.var().item() / var - 1) < 0.04  # SE of the variance: sqrt(2 / n) = 1 %


def _posterior_sampling_errors(
    method: Sfbd, sigma: float, n: int = 200_000
) -> tuple[float, float]:
    """(std / S - 1, MSE / MSE_exact - 1) of the method's backward step on the Gaussian toy.

    x0 ~ N(MU, S^2), y = x0 + sigma n. Exact posterior samples x ~ p(x0 | y) have the prior as
    their marginal (std S) and E||x - x0||^2 = 2 Var(x0 | y) = 2 S^2 sigma^2 / (S^2 + sigma^2).
    """
    g = torch.Generator().manual_seed(0)
    x0 = MU + S * torch.randn(n, 1, generator=g, dtype=torch.float64)
    y = x0 + sigma * torch.randn(n, 1, generator=g, dtype=torch.float64)

    def exact(x: Tensor, t: Tensor) -> Tensor:
        return MU + (x - MU) * S**2 / (S**2 + float(t) ** 2)

    out = method.denoise(exact, y, g)
    mse_exact = 2 * S**2 * sigma**2 / (S**2 + sigma**2)
    return out.std().item() / S - 1, ((out - x0) ** 2).mean().item() / mse_exact - 1


@pytest.mark.parametrize("sigma", [0.5, 0.59])  # the spec default; every committed sweep
def test_sde_backward_step_at_the_default_settings_samples_the_posterior(sigma: float) -> None:
    """Lu et al. 2025, Alg. 1: the backward SDE draws from p(x0 | y), at the spec's defaults.

    The statistical error of both figures at n = 200k is about 0.3 %; the tolerance is 3 %.
    The ODE's truncated 18-point grid with Euler-Maruyama (this project's SDE before issue 18)
    is off by 8-13 % in std and 17-25 % in MSE, and must fail the same check.
    """
    defaults = build_method(tiny_config(SfbdSpec(sigma=sigma, stochastic=True)))
    assert isinstance(defaults, Sfbd)
    std_err, mse_err = _posterior_sampling_errors(defaults, sigma)
    assert abs(std_err) < 0.03, std_err
    assert abs(mse_err) < 0.03, mse_err
    # The old setting: Euler-Maruyama on the part of the default 18-point grid below sigma.
    old = build_method(
        tiny_config(SfbdSpec(sigma=sigma, stochastic=True, sde_solver="euler_maruyama"))
    )
    assert isinstance(old, Sfbd)
    old.backward_sigmas = lambda: backward_sigmas(sigma, 18, SamplerConfig())  # type: ignore
    old_std, old_mse = _posterior_sampling_errors(old, sigma)
    assert old_std > 0.03 and old_mse > 0.03, (old_std, old_mse)


def test_sde_grid_counts_steps_below_sigma() -> None:
    method = _sfbd(sigma=0.59, stochastic=True, sde_steps=20)
    grid = method.backward_sigmas()
    assert len(grid) == 21 and grid[0] == 0.59 and grid[-1] == 0.0
    assert grid[-2] == pytest.approx(SamplerConfig().sigma_min)
    assert torch.all(grid[:-1] > grid[1:])
    assert sde_sigmas(0.59, 20, SamplerConfig()).tolist() == grid.tolist()
    # The ODE keeps the truncated full grid, whatever sde_steps says.
    ode = _sfbd(sigma=0.59, sde_steps=20, denoise_steps=18)
    assert ode.backward_sigmas().tolist() == backward_sigmas(0.59, 18, SamplerConfig()).tolist()
    with pytest.raises(ValueError, match="sigma_min"):
        sde_sigmas(0.001, 8, SamplerConfig())


@pytest.mark.parametrize("solver", ["heun", "euler_maruyama"])
def test_sde_backward_step_depends_only_on_the_generator(solver: str) -> None:
    method = _sfbd(sigma=SIGMA, stochastic=True, sde_solver=solver, sde_steps=8)
    y = torch.zeros(64, 1, dtype=torch.float64)

    def run(seed: int) -> Tensor:
        return method.denoise(_exact_denoiser, y, torch.Generator().manual_seed(seed))

    torch.testing.assert_close(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_sde_backward_step_depends_only_on_the_generator_ode_grid() -> None:
    y = torch.zeros(64, 1, dtype=torch.float64)
    sigmas = backward_sigmas(SIGMA, 18, SamplerConfig())

    def run(seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return denoise_observations(_exact_denoiser, y, sigmas, stochastic=True, generator=g)

    torch.testing.assert_close(run(0), run(0))
    assert not torch.equal(run(0), run(1))


# ----------------------------------------------------------------------------------------------
# (3) + (4) Full tiny SFBD runs through the shared Trainer.

N_IMAGES = 16
MARK = 0.777  # every pixel of every noisy image's hidden original


def _splits() -> SimpleNamespace:
    view = tiny_corruption_input(n=N_IMAGES)
    return SimpleNamespace(train=view.x, train_index=view.index)


def _config(**kw: Any) -> TrialConfig:
    cfg = tiny_config(_spec(**kw), lr_rampup_kimg=0.004, log_every_kimg=0.004)
    return cfg.model_copy(update={"eval": EvalConfig(every_kimg=None)})


class _Recorder(NoHooks):
    def __init__(self) -> None:
        self.points: list[tuple[str, int | None, bool, float]] = []
        self.denoised: list[tuple[int, TrainSet]] = []

    def evaluate(self, point: EvalPoint) -> dict[str, float]:
        self.points.append((point.phase, point.round, point.final, point.kimg))
        return {"fd_pixels": 1.0}

    def on_denoised(self, denoised: TrainSet, round: int) -> dict[str, float]:
        self.denoised.append((round, denoised))
        return {"psnr_denoised": 10.0 + round}


class _Recording(Sfbd):
    """Sfbd that records every batch its loss sees and the noisy set each backward step reads."""

    def __init__(self, spec: SfbdSpec, config: TrialConfig) -> None:
        super().__init__(spec, config)
        self.batches: list[Tensor] = []
        self.noisy_seen: list[Tensor] = []

    def loss(self, net: Any, batch: Batch, generator: torch.Generator) -> Tensor:
        self.batches.append(batch.x.detach().clone())
        return super().loss(net, batch, generator)

    def denoise_round(self, k: int, ctx: ActionContext) -> None:
        self.noisy_seen.append(ctx.train_sets["noisy"].x.clone())
        super().denoise_round(k, ctx)


def _run(cfg: TrialConfig, workdir: Path, splits: SimpleNamespace | None = None):
    splits = splits or _splits()
    method = _Recording(cfg.method, cfg)  # type: ignore[arg-type]
    hooks, reporter = _Recorder(), ListReporter()
    trainer = Trainer(
        cfg, method, splits, device=CPU, reporter=reporter, hooks=hooks, workdir=workdir
    )
    trainer.run()
    return trainer, method, hooks, reporter


def _rows_equal_to(x: Tensor, originals: Tensor) -> Tensor:
    """[len(x)] bool: the row equals (to 1e-6) one of `originals`."""
    d = (x.flatten(1)[:, None, :] - originals.flatten(1)[None, :, :]).abs().amax(dim=2)
    return (d < 1e-6).any(dim=1)


@pytest.mark.parametrize("union", [False, True])
def test_no_original_of_a_noisy_image_reaches_a_batch_or_a_train_set(
    union: bool, tmp_path: Path
) -> None:
    cfg = _config(union=union)
    splits = _splits()
    n_clean = round(0.25 * N_IMAGES)
    splits.train[n_clean:] = MARK  # recognisable originals of the noisy images
    noisy_originals = splits.train[n_clean:].clone()
    trainer, method, _, _ = _run(cfg, tmp_path, splits)

    seen = torch.cat(method.batches)
    assert len(seen) == trainer.nimg  # every batch went through the recorded loss
    assert not _rows_equal_to(seen, noisy_originals).any()
    assert not (seen == MARK).any(), "a pixel of a hidden original leaked"
    for name, ts in trainer.train_sets.items():
        for value in (ts.x, ts.mask, ts.sigma_n):
            if value is not None and value.dim() == 4:
                assert not _rows_equal_to(value, noisy_originals).any(), name
    # The method itself keeps ids, never images.
    for attr, value in vars(method).items():
        if isinstance(value, Tensor) and value.is_floating_point():
            assert not (value == MARK).any(), attr


def test_phases_order_and_kimg() -> None:
    method = _sfbd(rounds=3, pretrain_kimg=1.5, round_kimg=0.5)
    phases = method.phases()
    assert [p.name for p in phases] == [
        "pretrain",
        "denoise1",
        "fit1",
        "denoise2",
        "fit2",
        "denoise3",
        "fit3",
    ]
    assert [p.kind for p in phases] == ["fit"] + ["action", "fit"] * 3
    assert [p.round for p in phases] == [0, 1, 1, 2, 2, 3, 3]
    fits = [p for p in phases if p.kind == "fit"]
    assert [(p.data, p.kimg) for p in fits] == [("clean", 1.5)] + [("denoised", 0.5)] * 3
    assert [p.name for p in _sfbd(rounds=0).phases()] == ["pretrain"]


def test_trainer_runs_the_rounds_and_evaluates_after_each(tmp_path: Path) -> None:
    cfg = _config()
    trainer, method, hooks, reporter = _run(cfg, tmp_path)
    # batch 4: pretrain 8 images = 2 steps, each round 4 images = 1 step.
    assert trainer.nimg == 16 and len(method.batches) == 4
    assert hooks.points == [
        ("pretrain", 0, False, 0.008),
        ("fit1", 1, False, 0.012),
        ("fit2", 2, True, 0.016),
    ]
    assert [r for r, _ in hooks.denoised] == [1, 2]
    assert reporter.series("psnr_denoised") == [(1, 11.0), (2, 12.0)]  # step = round
    noisy_ids = trainer.train_sets["noisy"].index.tolist()
    for _, denoised in hooks.denoised:
        assert denoised.index.tolist() == noisy_ids
        assert denoised.mask is None and denoised.sigma_n is None
    assert trainer.train_sets["denoised"].index.tolist() == noisy_ids
    assert reporter.tags["sfbd.backward"] == "ode"


def test_union_and_denoise_images_cap(tmp_path: Path) -> None:
    cfg = _config(union=True, denoise_images=5, stochastic=True)
    trainer, _, hooks, _ = _run(cfg, tmp_path)
    splits = _splits()
    clean_ids = splits.train_index[:4].tolist()
    noisy_ids = splits.train_index[4:9].tolist()  # the first 5 noisy images
    for _, denoised in hooks.denoised:
        assert denoised.index.tolist() == noisy_ids  # on_denoised sees E_k only
    fit_set = trainer.train_sets["denoised"]
    assert fit_set.index.tolist() == noisy_ids + clean_ids
    torch.testing.assert_close(fit_set.x[5:], splits.train[:4])
    assert fit_set.x.abs().max() <= 1.0


def test_noise_is_frozen_across_rounds_and_runs(tmp_path: Path) -> None:
    cfg = _config()
    trainer, method, hooks, _ = _run(cfg, tmp_path / "a")
    first, second = method.noisy_seen
    assert torch.equal(first, second)  # the backward step restarts from the same y every round
    _, again, hooks2, _ = _run(cfg, tmp_path / "b")
    assert torch.equal(again.noisy_seen[0], first)  # and in another run of the same config
    torch.testing.assert_close(hooks.denoised[-1][1].x, hooks2.denoised[-1][1].x)
    # A trial differing only in training settings sees the same noisy images.
    other = cfg.model_copy(update={"train": cfg.train.model_copy(update={"lr": 5e-4})})
    _, third, _, _ = _run(other, tmp_path / "c")
    assert torch.equal(third.noisy_seen[0], first)
    assert torch.equal(trainer.train_sets["noisy"].x, first)


# ----------------------------------------------------------------------------------------------
# (5) transfer: each round from the EMA weights with a fresh Adam and lr ramp (official code).


class _Watching(Sfbd):
    """Sfbd whose loss records, at every step, what the Trainer's state is at that point."""

    trainer: Trainer

    def __init__(self, spec: SfbdSpec, config: TrialConfig) -> None:
        super().__init__(spec, config)
        self.steps: list[dict[str, Any]] = []

    def loss(self, net: Any, batch: Batch, generator: torch.Generator) -> Tensor:
        tr = self.trainer
        ema = dict(tr.ema.model.named_parameters())
        self.steps.append(
            {
                "equals_ema": all(torch.equal(p, ema[k]) for k, p in net.named_parameters()),
                "adam_state": len(tr.opt.state),
                "lr": tr.opt.param_groups[0]["lr"],
                "phase": tr.phases[tr.phase_index].name,
            }
        )
        return super().loss(net, batch, generator)


def _watch(transfer: str, tmp_path: Path) -> tuple[Trainer, list[dict[str, Any]]]:
    # batch 4, ramp over 16 images = 4 steps; pretrain 2 steps, each round 2 steps.
    cfg = tiny_config(
        _spec(transfer=transfer, pretrain_kimg=0.008, round_kimg=0.008),
        lr_rampup_kimg=0.016,
        log_every_kimg=0.004,
    )
    cfg = cfg.model_copy(update={"eval": EvalConfig(every_kimg=None)})
    method = _Watching(cfg.method, cfg)  # type: ignore[arg-type]
    trainer = Trainer(
        cfg, method, _splits(), device=CPU, reporter=ListReporter(), hooks=NoHooks(),
        workdir=tmp_path,
    )
    method.trainer = trainer
    trainer.run()
    return trainer, method.steps


def test_transfer_ema_starts_each_round_from_the_ema_with_a_fresh_adam(tmp_path: Path) -> None:
    trainer, steps = _watch("ema", tmp_path)
    lr = trainer.config.train.lr
    assert [s["phase"] for s in steps] == ["pretrain"] * 2 + ["fit1"] * 2 + ["fit2"] * 2
    for k in (2, 4):  # the first step of each round
        first = steps[k]
        assert first["equals_ema"], "a round must start from the EMA weights"
        assert first["adam_state"] == 0, "a round must start with a fresh optimizer"
        assert first["lr"] == pytest.approx(lr * 4 / 16)  # the ramp restarts
        assert steps[k + 1]["lr"] == pytest.approx(lr * 8 / 16)
        assert steps[k + 1]["adam_state"] > 0 and not steps[k + 1]["equals_ema"]
    assert [s["lr"] for s in steps[:2]] == pytest.approx([lr * 4 / 16, lr * 8 / 16])
    assert [p.from_ema for p in trainer.phases] == [False, False, True, False, True]


def test_transfer_raw_continues_the_raw_weights_and_adam(tmp_path: Path) -> None:
    trainer, steps = _watch("raw", tmp_path)
    lr = trainer.config.train.lr
    assert not steps[2]["equals_ema"] and steps[2]["adam_state"] > 0
    assert [s["lr"] for s in steps] == pytest.approx([lr * k / 4 for k in (1, 2, 3, 4)] + [lr] * 2)
    assert not any(p.from_ema for p in trainer.phases)


def test_fit_loss_matches_the_brute_force_reference() -> None:
    """SFBD's forward step is the plain EDM loss on E_k (Lu et al. 2025, Alg. 1)."""
    p_mean, p_std = -0.3, 0.9
    method = build_method(tiny_config(_spec(), p_mean=p_mean, p_std=p_std))
    denoised = tiny_corruption_input(n=512).x.clamp(-0.9, 0.9)
    check_edm_loss(method, denoised, p_mean, p_std)
