"""The schedulers' time attribute: each trial's own fraction of its budget.

Needs i16-moasha's ``ambientsweep.search.results`` (the Ray results of a trial, Ray-free);
skipped until that module is merged.
"""

from __future__ import annotations

import pytest

results = pytest.importorskip("ambientsweep.search.results")


def test_mixed_budgets_compare_at_the_same_fraction() -> None:
    short, long = results.TrialResults(total_kimg=2.0), results.TrialResults(total_kimg=8.0)
    a = short.result({"fd_digits_cnn": 30.0}, step=1000)
    b = long.result({"fd_digits_cnn": 20.0}, step=4000)
    assert a[results.BUDGET_FRACTION] == b[results.BUDGET_FRACTION] == 0.5
    assert a[results.TIME_ATTR] == 1.0 and b[results.TIME_ATTR] == 4.0


def test_evaluation_metrics_only_at_evaluations_all_at_the_end() -> None:
    r = results.TrialResults(total_kimg=1.0)
    first = r.result({"fd_digits_cnn": 9.0}, step=500)
    loss = r.result({"loss": 0.3}, step=600)
    assert "fd_digits_cnn" in first and "fd_digits_cnn" not in loss  # no stale value
    r.result({"psnr_denoised": 20.0}, step=1)  # per-round metrics come with step = round
    final = r.result({"fd_digits_cnn": 7.0}, step=1000)
    end = r.result({results.BUDGET_KEY: 1.0}, step=1000)
    assert final[results.BUDGET_FRACTION] == end[results.BUDGET_FRACTION] == 1.0
    assert end["fd_digits_cnn"] == 7.0 and end["loss"] == 0.3 and end["psnr_denoised"] == 20.0
    assert end[results.BUDGET_KEY] == 1.0  # final metrics and budget_complete together
