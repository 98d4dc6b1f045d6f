"""The shared Trainer: determinism, logging, lr ramp, divergence, phases and hooks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ambientsweep.config import TrialConfig
from ambientsweep.errors import DivergedError
from ambientsweep.methods import ActionContext, Batch, Edm, Phase, TrainSet
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.training import EvalPoint, NoHooks, Trainer

CPU = torch.device("cpu")


def _train(cfg: TrialConfig, splits: SimpleNamespace, workdir: Path, method=None, hooks=None):
    reporter = ListReporter()
    trainer = Trainer(
        cfg,
        method or Edm(cfg.method, cfg),
        splits,
        device=CPU,
        reporter=reporter,
        hooks=hooks or NoHooks(),
        workdir=workdir,
    )
    return trainer, reporter, trainer.run()


def test_same_config_and_seed_give_the_same_loss_curve(splits, make_config, tmp_path) -> None:
    rng = torch.get_rng_state()
    _, a, _ = _train(make_config(), splits, tmp_path / "a")
    _, b, _ = _train(make_config(), splits, tmp_path / "b")
    _, c, _ = _train(make_config(seed=1), splits, tmp_path / "c")
    assert a.series("loss") == b.series("loss")
    assert a.series("loss") != c.series("loss")
    assert torch.equal(rng, torch.get_rng_state())  # the global RNG is left alone


def test_loss_reported_every_log_interval_at_images_seen(splits, make_config, tmp_path) -> None:
    trainer, rep, _ = _train(make_config(), splits, tmp_path)
    steps = [s for s, _ in rep.series("loss")]
    assert steps == [8, 16, 24, 32, 40]  # batch 4, log every 8 images, 40 images
    assert trainer.step == 10 and trainer.nimg == 40
    assert rep.tags == {"edm.train_on": "clean"}


def test_lr_ramp_up_and_adam_settings(splits, make_config, tmp_path: Path) -> None:
    cfg = make_config(kimg=0.004, lr_rampup_kimg=0.016, betas=(0.8, 0.99))
    trainer, _, _ = _train(cfg, splits, tmp_path)
    group = trainer.opt.param_groups[0]
    assert group["lr"] == pytest.approx(cfg.train.lr * 4 / 16)  # one step of batch 4
    assert group["betas"] == (0.8, 0.99)


def test_grad_clip_runs(splits, make_config, tmp_path: Path) -> None:
    _, rep, _ = _train(make_config(grad_clip=0.01), splits, tmp_path)
    assert len(rep.series("loss")) == 5


class _NanEdm(Edm):
    def loss(self, net, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        loss = super().loss(net, batch, generator)
        return loss * float("nan") if self._calls() > 2 else loss

    def _calls(self) -> int:
        self.n = getattr(self, "n", 0) + 1
        return self.n


def test_nan_loss_raises_diverged_with_the_step(splits, make_config, tmp_path: Path) -> None:
    cfg = make_config()
    with pytest.raises(DivergedError, match="at step 12") as info:
        _train(cfg, splits, tmp_path, method=_NanEdm(cfg.method, cfg))
    assert info.value.step == 12  # type: ignore[attr-defined]


class _Recorder(NoHooks):
    def __init__(self) -> None:
        self.points: list[EvalPoint] = []
        self.denoised: list[int] = []

    def evaluate(self, point: EvalPoint) -> dict[str, float]:
        assert not point.net.training
        self.points.append(point)
        return {"fd_pixels": float(point.step)}

    def on_denoised(self, denoised: TrainSet, round: int) -> dict[str, float]:
        self.denoised.append(round)
        return {"psnr_denoised": 10.0 + round}


class _Rounds(Edm):
    """SFBD-shaped schedule: pretrain, then 2 x [replace the set with a shifted copy; fit]."""

    def phases(self) -> list[Phase]:
        out = [Phase("pretrain", "fit", kimg=0.008)]
        for k in (1, 2):
            out += [
                Phase(f"denoise{k}", "action", action=self._denoise, round=k),
                Phase(f"fit{k}", "fit", kimg=0.008, data="denoised", round=k),
            ]
        return out

    def _denoise(self, ctx: ActionContext) -> None:
        assert ctx.phase is not None and not ctx.net.training
        src = ctx.train_sets["train"]
        new = TrainSet(x=src.x * 0.5, index=src.index)
        ctx.replace_train_set("denoised", new)
        ctx.on_denoised(new, ctx.phase.round or 0)


def test_phases_hooks_and_evaluation_points(splits, make_config, tmp_path: Path) -> None:
    cfg = make_config(every_kimg=0.016)
    hooks = _Recorder()
    method = _Rounds(cfg.method, cfg)
    trainer, rep, final = _train(cfg, splits, tmp_path, method=method, hooks=hooks)
    got = [(p.step, p.phase, p.round, p.final) for p in hooks.points]
    # every 16 images (= the end of round 1: evaluated once), and a final one ending round 2.
    assert got == [(16, "fit1", 1, False), (24, "fit2", 2, True)]
    assert final == {"fd_pixels": 24.0}
    assert hooks.denoised == [1, 2]
    assert rep.series("psnr_denoised") == [(1, 11.0), (2, 12.0)]
    assert "denoised" in trainer.train_sets
