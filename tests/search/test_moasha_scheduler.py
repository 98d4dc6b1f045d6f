"""The Ray scheduler around MOASHA's ranking, driven with Ray's own Trial objects."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from ambientsweep.search.moasha import BUDGET_FRACTION, MOASHAScheduler, configuration_key

METRICS = ["fd_digits_cnn", "mem_ratio_pixels"]


def _trial(point: dict, replicate: int = 0) -> Trial:
    return Trial("__fake", config={"point": point, "replicate": replicate}, stub=True)


def _sched(replicates: int = 1) -> MOASHAScheduler:
    return MOASHAScheduler(METRICS, ["min", "min"], rungs=[0.25], reduction_factor=2,
                           replicates=replicates)


def _eval(frac: float, fd: float, mem: float, **extra: float) -> dict:
    return {BUDGET_FRACTION: frac, "fd_digits_cnn": fd, "mem_ratio_pixels": mem, **extra}


def test_loss_only_results_pass_and_no_metric_is_claimed() -> None:
    s = _sched()
    assert s.metric is None
    assert s.set_search_properties("loss", "min") and s.metric is None
    t = _trial({"lr": 1})
    assert s.on_trial_result(None, t, {"loss": 0.3, BUDGET_FRACTION: 0.5}) == "CONTINUE"
    assert s.on_trial_result(None, t, {"fd_digits_cnn": 1.0, BUDGET_FRACTION: 0.5}) == "CONTINUE"
    assert s.table.decisions == []


def test_dominated_trial_stopped_and_full_budget_never_stopped() -> None:
    s = _sched()
    a, b, c = _trial({"lr": 1}), _trial({"lr": 2}), _trial({"lr": 3})
    assert s.on_trial_result(None, a, _eval(0.25, 1.0, 0.1)) == TrialScheduler.CONTINUE
    assert s.on_trial_result(None, b, _eval(0.25, 2.0, 0.2)) == TrialScheduler.STOP
    # c's first evaluation is its final one: recorded at the rung (dominated), never stopped
    assert s.on_trial_result(None, c, _eval(1.0, 3.0, 0.3)) == TrialScheduler.CONTINUE
    assert s.on_trial_result(None, c, _eval(0.99, 3.0, 0.3, budget_complete=1.0)) == "CONTINUE"
    assert "0.25: 3; 1 stopped" in s.debug_string()


def test_replicates_stop_together_at_their_next_result(tmp_path: Path) -> None:
    s = _sched(replicates=2)
    good = [_trial({"lr": 1}, r) for r in range(2)]
    bad = [_trial({"lr": 2}, r) for r in range(2)]
    for t in good:
        s.on_trial_result(None, t, _eval(0.25, 1.0, 0.1))
    assert s.on_trial_result(None, bad[0], _eval(0.3, 0.5, 0.05)) == "CONTINUE"  # waits
    assert s.on_trial_result(None, bad[1], _eval(0.25, 9.0, 0.9)) == "STOP"
    # the other replicate is stopped on its next result, even a loss-only one
    assert s.on_trial_result(None, bad[0], {"loss": 0.1, BUDGET_FRACTION: 0.4}) == "STOP"
    # ...but not on the report of a budget it already completed
    assert s.on_trial_result(None, bad[0], {"budget_complete": 1.0}) == "CONTINUE"
    # state survives save/restore (Ray checkpoints its scheduler)
    path = tmp_path / "s.pkl"
    s.save(str(path))
    s2 = _sched(replicates=2)
    s2.restore(str(path))
    assert s2.table.stopped == s.table.stopped
    assert pickle.loads(pickle.dumps(s2)).table.recorded == s.table.recorded


def test_configuration_key_ignores_the_replicate() -> None:
    assert configuration_key({"point": {"b": 1, "a": 2}, "replicate": 1}) == (
        '{"a": 2, "b": 1}', 1)
    assert configuration_key({"a": 2, "b": 1, "replicate": 0})[0] == '{"a": 2, "b": 1}'


SWEEP = """\
name: es
base: base.yaml
overrides: {eval.every_kimg: 0.16}
space:
  train.kimg: {grid: [0.64, 1.28]}
objectives:
  - {metric: fd_digits_cnn}
  - {metric: mem_ratio_pixels}
  - {metric: conf90, direction: max}
replicates: 2
early_stopping: %s
"""
BASE = ("data: {name: digits, train_size: 50}\nmodel: {backbone: mlp}\ntrain: {kimg: 1.28}\n"
        "method: {kind: edm}\n")


def _loaded(tmp_path: Path, es: str) -> Any:
    from ambientsweep.spec.load import load_sweep

    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "s.yaml").write_text(SWEEP % es)
    return load_sweep(tmp_path / "s.yaml")


def test_build_moasha_from_the_spec(tmp_path: Path) -> None:
    from ambientsweep.search.schedulers import build_scheduler

    loaded = _loaded(tmp_path, "{scheduler: moasha, metrics: [conf90, fd_digits_cnn], "
                               "grace_kimg: 0.08, reduction_factor: 2}")
    s = build_scheduler(loaded, [0.64, 1.28])
    assert isinstance(s, MOASHAScheduler)
    assert s.metrics == ["conf90", "fd_digits_cnn"] and s.table.modes == ["max", "min"]
    # grace 0.08 kimg of the smallest budget 0.64 = 1/8, then x2 below 1
    assert s.table.rungs == [0.125, 0.25, 0.5] and s.table.replicates == 2
    every = build_scheduler(_loaded(tmp_path, "{scheduler: moasha, rungs: [0.3, 0.6]}"))
    assert every.metrics == ["fd_digits_cnn", "mem_ratio_pixels", "conf90"]
    assert every.table.rungs == [0.3, 0.6]


def test_asha_on_the_budget_fraction_never_stops_a_full_budget(tmp_path: Path) -> None:
    from ambientsweep.search.schedulers import BudgetASHA, build_scheduler

    s = build_scheduler(_loaded(tmp_path, "{scheduler: asha, metric: fd_digits_cnn, "
                                          "grace_fraction: 0.25, reduction_factor: 2}"))
    assert isinstance(s, BudgetASHA) and s.metric is None  # no strict check on loss reports
    a, b = _trial({"k": 1}), _trial({"k": 2})
    s.on_trial_add(None, a)
    s.on_trial_add(None, b)
    assert s.on_trial_result(None, a, {BUDGET_FRACTION: 0.1, "loss": 1.0}) == "CONTINUE"
    assert s.on_trial_result(None, a, {BUDGET_FRACTION: 0.25, "fd_digits_cnn": 1.0}) == "CONTINUE"
    assert s.on_trial_result(None, b, {BUDGET_FRACTION: 0.25, "fd_digits_cnn": 9.0}) == "STOP"
    # at the full budget a worse value is still not stopped (Ray's max_t rung would)
    assert s.on_trial_result(None, a, {BUDGET_FRACTION: 1.0, "fd_digits_cnn": 99.0}) == "CONTINUE"


def test_grid_trials_wrap_point_and_replicate() -> None:
    key, rep = configuration_key({"trial": {"point": {"lr": 0.1}, "replicate": 2}})
    assert (key, rep) == ('{"lr": 0.1}', 2)
