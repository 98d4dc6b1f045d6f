"""reported_metrics(config) predicts exactly what a real trial reports, and when."""

from __future__ import annotations

from pathlib import Path

import pytest

from ambientsweep.config import TrialConfig
from ambientsweep.metrics.reported import (
    DURING_TRAINING,
    When,
    objective_problems,
    reported_metrics,
)
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.trial import run_trial

TINY = {  # the default reference split: digits_cnn is the shipped one (nothing trains it)
    "data": {"name": "digits", "train_size": 40},
    "model": {"backbone": "mlp", "mlp_hidden": 64, "mlp_layers": 3},
    "train": {"kimg": 0.32, "batch_size": 32, "lr_rampup_kimg": 0.1, "log_every_kimg": 0.16},
    "sampler": {"steps": 4},
    "eval": {"num_samples": 32, "features": "pixels", "gallery_size": 2, "save_images": False},
}
NOT_METRICS = {"round", "budget_complete", "trial_seconds", "eval_seconds"}


def _cfg(method: dict, **sections: dict) -> TrialConfig:
    cfg = {k: dict(v) for k, v in TINY.items()}
    for name, values in sections.items():
        cfg[name].update(values)
    return TrialConfig.model_validate({**cfg, "method": method})


CASES = {
    "edm-noisy-every-eval": _cfg({"kind": "edm", "train_on": "noisy", "clean_fraction": 0.25},
                                 eval={"every_kimg": 0.16}),
    "sfbd-one-round": _cfg({"kind": "sfbd", "clean_fraction": 0.25, "rounds": 1,
                            "pretrain_kimg": 0.16, "round_kimg": 0.16, "denoise_steps": 4}),
    "ambient": _cfg({"kind": "ambient", "p": 0.4, "delta": 0.1}),
    "tn-digits-cnn-features": _cfg({"kind": "ambient_tn", "sigma_tn": 0.5},
                                   eval={"features": "digits_cnn"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_prediction_matches_a_real_trial(name: str, tmp_path: Path, shared_cache: Path) -> None:
    cfg = CASES[name]
    predicted = reported_metrics(cfg)
    reporter = ListReporter()
    result = run_trial(cfg, reporter, tmp_path / "trial", cache_dir=shared_cache)
    seen = {k for _, m in reporter.records for k in m} - NOT_METRICS
    assert seen == set(predicted), (seen ^ set(predicted))
    final_step = max(s for s, m in reporter.records if "budget_complete" in m)
    for key, when in predicted.items():
        if When.END in when:
            assert key in result.metrics, key
        if when & (When.EVAL | When.ROUND) and key != "psnr_denoised":
            steps = [s for s, v in reporter.series(key)]
            assert min(steps) < final_step, (key, steps)  # reported before the end
        if when == When.TRAIN:
            assert len(reporter.series(key)) >= 2, key


def test_what_each_method_adds() -> None:
    sfbd, edm = reported_metrics(CASES["sfbd-one-round"]), reported_metrics(CASES["ambient"])
    assert sfbd["psnr_denoised"] == When.ROUND
    assert sfbd["fd_pixels"] == When.ROUND | When.END  # SFBD evaluates after every round
    assert "mem_ratio_pixels_clean" in sfbd and "mem_ratio_pixels_noisy" in sfbd
    assert edm["holes_contrast"] == When.END and "psnr_denoised" not in edm
    assert "mem_ratio_pixels_clean" not in edm
    # An early-stopping scheduler sees only what is reported during training.
    assert not edm["fd_pixels"] & DURING_TRAINING
    assert reported_metrics(CASES["edm-noisy-every-eval"])["fd_pixels"] & DURING_TRAINING


def test_objective_problems_say_why() -> None:
    cfg = CASES["ambient"]
    probs = dict(objective_problems(["fd_pixels", "psnr_denoised", "mem_ratio_pixels_clean",
                                     "fd_digits_cnn", "mem_ratio_dinov2"], cfg))
    assert set(probs) == {1, 2, 3, 4}
    assert "SFBD" in probs[1] and "clean and noisy" in probs[2]
    assert "eval.features" in probs[3] and "eval.dinov2" in probs[4]
