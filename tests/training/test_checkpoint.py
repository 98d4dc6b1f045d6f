"""Checkpoints: atomic save, safe load, resume gives the same continuation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ambientsweep.config import ModelConfig
from ambientsweep.methods import Edm
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.training import (
    CHECKPOINT_NAME,
    EvalPoint,
    NoHooks,
    Trainer,
    config_from_json,
    config_to_json,
    load_checkpoint,
    load_ema_denoiser,
)
from ambientsweep.training.checkpoint import VARIANT_KEY, CheckpointVariantError, method_variant

CPU = torch.device("cpu")


class _Crash(Exception):
    pass


class _CrashAtFirstEval(NoHooks):
    def evaluate(self, point: EvalPoint) -> dict[str, float]:
        if not point.final:
            raise _Crash
        return {}


def _trainer(cfg, splits, workdir: Path, hooks=None, reporter=None) -> Trainer:
    return Trainer(
        cfg,
        Edm(cfg.method, cfg),
        splits,
        device=CPU,
        reporter=reporter if reporter is not None else ListReporter(),
        hooks=hooks or NoHooks(),
        workdir=workdir,
    )


def test_resume_gives_the_same_continuation(splits, make_config, tmp_path: Path) -> None:
    # Checkpoint and evaluate at 16 images; the first run "crashes" in that evaluation.
    cfg = make_config(every_kimg=0.016, checkpoint_every_kimg=0.016)
    # A tiny UNet with dropout: its draws from the (forked) global RNG must resume too.
    unet = ModelConfig(channels=8, channel_mult=(1, 2), emb_dim=16, dropout=0.1)
    cfg = cfg.model_copy(update={"model": unet})
    whole_rep = ListReporter()
    whole = _trainer(cfg, splits, tmp_path / "whole", reporter=whole_rep)
    whole.run()

    crashed = _trainer(cfg, splits, tmp_path / "b", hooks=_CrashAtFirstEval())
    with pytest.raises(_Crash):
        crashed.run()
    assert crashed.nimg == 16
    rep = ListReporter()
    resumed = _trainer(cfg, splits, tmp_path / "b", reporter=rep)
    assert resumed.resumed and resumed.nimg == 16
    resumed.run()

    assert resumed.nimg == whole.nimg == 40
    for key, value in whole.ema.model.state_dict().items():
        torch.testing.assert_close(resumed.ema.model.state_dict()[key], value, rtol=0, atol=0)
    assert rep.series("loss") == [p for p in whole_rep.series("loss") if p[0] > 16]


def test_load_ema_denoiser(splits, make_config, tmp_path: Path) -> None:
    cfg = make_config()
    trainer = _trainer(cfg, splits, tmp_path)
    trainer.run()
    net, cfg2 = load_ema_denoiser(tmp_path / CHECKPOINT_NAME)
    assert cfg2 == cfg and not net.training
    x, sigma = torch.randn(3, 1, 8, 8), torch.tensor([0.1, 1.0, 10.0])
    torch.testing.assert_close(net(x, sigma), trainer.ema.model(x, sigma))
    assert not (tmp_path / (CHECKPOINT_NAME + ".tmp")).exists()


def test_other_config_is_not_resumed(splits, make_config, tmp_path: Path) -> None:
    _trainer(make_config(), splits, tmp_path).run()
    with pytest.warns(UserWarning, match="another config"):
        other = _trainer(make_config(seed=3), splits, tmp_path)
    assert not other.resumed and other.nimg == 0


def test_config_json_round_trips_inf(make_config) -> None:
    cfg = make_config()
    assert cfg.sampler.s_tmax == float("inf")
    assert config_from_json(config_to_json(cfg)) == cfg


def _ambient_checkpoint(splits, make_config, tmp_path: Path, **spec) -> tuple[Path, Any]:
    from ambientsweep.methods import AmbientSpec, build_method

    cfg = make_config(kimg=0.008).model_copy(update={"method": AmbientSpec(**spec)})
    method = build_method(cfg)
    trainer = Trainer(
        cfg, method, splits, device=CPU, reporter=ListReporter(), hooks=NoHooks(),
        workdir=tmp_path,
    )
    trainer.run()
    return tmp_path / CHECKPOINT_NAME, trainer


def test_checkpoint_records_the_method_variant(splits, make_config, tmp_path: Path) -> None:
    path, trainer = _ambient_checkpoint(splits, make_config, tmp_path, mask_precond="unscaled")
    state = load_checkpoint(path)
    want = {"ambient.clip_denoised": True, "ambient.mask_precond": "unscaled"}
    assert state[VARIANT_KEY] == want
    _, cfg = load_ema_denoiser(path)
    assert cfg == trainer.config and cfg.method.mask_precond == "unscaled"  # type: ignore[union-attr]
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)[VARIANT_KEY] == method_variant(cfg)


def test_old_checkpoint_loads_as_the_old_variant(splits, make_config, tmp_path: Path) -> None:
    """A checkpoint from before mask_precond existed was trained with the unscaled mask: it must
    not load silently as the new default (c_in)."""
    path, _ = _ambient_checkpoint(splits, make_config, tmp_path)
    state = load_checkpoint(path)
    raw = json.loads(state["config"])
    for key in ("mask_precond", "clip_denoised"):  # what a config written before issue 18 holds
        del raw["method"][key]
    state["config"] = json.dumps(raw)
    del state[VARIANT_KEY]
    torch.save(state, path)
    with pytest.warns(UserWarning, match="predates method.mask_precond"):
        _, cfg = load_ema_denoiser(path)
    assert cfg.method.mask_precond == "unscaled"  # type: ignore[union-attr]
    assert cfg.method.clip_denoised is False  # type: ignore[union-attr]


def test_variant_mismatch_is_refused(splits, make_config, tmp_path: Path) -> None:
    path, trainer = _ambient_checkpoint(splits, make_config, tmp_path)
    state = load_checkpoint(path)
    state[VARIANT_KEY] = {**state[VARIANT_KEY], "ambient.mask_precond": "unscaled"}
    torch.save(state, path)
    with pytest.raises(CheckpointVariantError, match="records method variant"):
        load_ema_denoiser(path)
    from ambientsweep.methods import build_method

    with pytest.raises(CheckpointVariantError, match=str(path)):
        Trainer(
            trainer.config, build_method(trainer.config), splits, device=CPU,
            reporter=ListReporter(), hooks=NoHooks(), workdir=tmp_path,
        )


def test_methods_without_variant_fields_record_none(splits, make_config, tmp_path) -> None:
    cfg = make_config()
    _trainer(cfg, splits, tmp_path).run()
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)[VARIANT_KEY] == {}
    assert method_variant(cfg) == {}


def _rewrite_version(path: Path, version: int | None) -> None:
    from ambientsweep.versions import VERSION_KEY

    state = torch.load(path, weights_only=True)
    if version is None:
        state.pop(VERSION_KEY)  # as written before versions were recorded
    else:
        state[VERSION_KEY] = version
    torch.save(state, path)


def test_checkpoint_records_the_schema_version(splits, make_config, tmp_path: Path) -> None:
    from ambientsweep.versions import SCHEMA_VERSION, VERSION_KEY

    _trainer(make_config(), splits, tmp_path).run()
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert state[VERSION_KEY] == SCHEMA_VERSION


@pytest.mark.parametrize("version", [None, 99])
def test_checkpoint_of_another_version_is_not_resumed(version, splits, make_config,
                                                      tmp_path: Path) -> None:
    """A checkpoint from before versions (1) or from a newer ambientsweep (99): afresh."""
    cfg = make_config()
    _trainer(cfg, splits, tmp_path).run()
    _rewrite_version(tmp_path / CHECKPOINT_NAME, version)
    with pytest.warns(UserWarning, match="schema version") as record:
        again = _trainer(cfg, splits, tmp_path)
    assert not again.resumed and again.nimg == 0
    text = str(record[0].message)
    assert ("newer ambientsweep" in text) if version else ("cannot resume" in text)


def test_model_from_a_newer_version_is_refused(splits, make_config, tmp_path: Path) -> None:
    from ambientsweep.versions import IncompatibleVersion

    _trainer(make_config(), splits, tmp_path).run()
    _rewrite_version(tmp_path / CHECKPOINT_NAME, None)
    load_ema_denoiser(tmp_path / CHECKPOINT_NAME)  # version 1 models mean the same: read
    _rewrite_version(tmp_path / CHECKPOINT_NAME, 99)
    with pytest.raises(IncompatibleVersion, match=r"newer ambientsweep.*Upgrade"):
        load_ema_denoiser(tmp_path / CHECKPOINT_NAME)


def test_intermediate_checkpoints_go_to_the_callback_and_resume(splits, make_config,
                                                                tmp_path: Path) -> None:
    # Every evaluation hands a checkpoint over (Ray Tune keeps it); only the final stays.
    cfg = make_config(every_kimg=0.016)
    got: list[tuple[int, Path]] = []

    def keep(folder: Path) -> None:
        assert folder.is_dir() and (folder / CHECKPOINT_NAME).is_file()
        dest = tmp_path / "tune" / f"c{len(got)}"
        dest.mkdir(parents=True)
        (dest / CHECKPOINT_NAME).write_bytes((folder / CHECKPOINT_NAME).read_bytes())
        got.append((torch.load(folder / CHECKPOINT_NAME, weights_only=True)["nimg"], dest))

    whole = Trainer(cfg, Edm(cfg.method, cfg), splits, device=CPU, reporter=ListReporter(),
                    hooks=NoHooks(), workdir=tmp_path / "w", on_checkpoint=keep)
    whole.run()
    assert [n for n, _ in got] == [16, 32]  # after each intermediate evaluation
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [CHECKPOINT_NAME]
    resumed = Trainer(cfg, Edm(cfg.method, cfg), splits, device=CPU, reporter=ListReporter(),
                      hooks=NoHooks(), workdir=tmp_path / "other-node",
                      resume_from=got[0][1] / CHECKPOINT_NAME)
    assert resumed.resumed and resumed.resumed_from_nimg == 16
    resumed.run()
    for key, value in whole.ema.model.state_dict().items():
        torch.testing.assert_close(resumed.ema.model.state_dict()[key], value, rtol=0, atol=0)
