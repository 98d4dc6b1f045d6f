"""The early-stopping scheduler of a sweep (`early_stopping:` in the sweep file), for Ray Tune.

All three run on the trial's own **budget fraction** (``budget_fraction`` in every result,
:mod:`ambientsweep.search.results`): rungs and grace periods are fractions of each trial's full
budget, so configurations of different budgets are compared at the same relative progress.
``grace_kimg`` is turned into a fraction of the *smallest* full budget among the sweep's
configurations (every trial has then trained at least grace_kimg at the first rung).

Common to all three:
- they act only on results that carry their metric(s) (evaluation points); their ``metric``
  property is None so Ray's strict metric check does not demand it in every training report;
- a result at the full budget is never answered STOP, so a trial that trained its whole budget
  always reaches its ``budget_complete`` report and is never "pruned".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule, TrialScheduler

from ambientsweep.search.moasha import MOASHAScheduler
from ambientsweep.search.moasha_rank import FULL, rungs_from
from ambientsweep.search.results import BUDGET_FRACTION, BUDGET_KEY
from ambientsweep.spec.load import LoadedSweep


class _AtEvaluationsOnly:
    """Mixin: no metric claimed for Ray's strict check; full-budget results never stopped."""

    _metric: str | None
    _time_attr: str

    @property
    def metric(self) -> None:
        return None

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        if (result.get(BUDGET_KEY) or float(result.get(self._time_attr, 0.0)) >= FULL
                or self._metric not in result):
            return TrialScheduler.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]


class BudgetASHA(_AtEvaluationsOnly, ASHAScheduler):
    """Ray's ASHA on the budget fraction (max_t = 1), acting at evaluation points only."""


class BudgetMedianStopping(_AtEvaluationsOnly, MedianStoppingRule):
    """Ray's median stopping rule on the budget fraction, acting at evaluation points only."""


def grace_fraction(loaded: LoadedSweep, budgets_kimg: Sequence[float]) -> float:
    es = loaded.spec.early_stopping
    assert es is not None
    if es.grace_fraction is not None:
        return es.grace_fraction
    assert es.grace_kimg is not None
    smallest = min(budgets_kimg)
    frac = es.grace_kimg / smallest
    if not 0 < frac < 1:
        from ambientsweep.errors import UserError

        raise UserError(f"early_stopping.grace_kimg: {es.grace_kimg:g} kimg is not below the "
                        f"smallest full budget of the sweep ({smallest:g} kimg), so no trial "
                        "could ever be stopped; lower it or use grace_fraction")
    return frac


def build_scheduler(loaded: LoadedSweep, budgets_kimg: Sequence[float] = ()) -> Any:
    """The sweep's scheduler, or None. ``budgets_kimg``: the full budgets of its
    configurations (needed only for ``grace_kimg``)."""
    spec = loaded.spec
    es = spec.early_stopping
    if es is None:
        return None
    from ambientsweep.metrics import names

    if es.scheduler == "moasha":
        chosen = es.metrics or spec.metric_names
        modes = [o.mode for m in chosen for o in spec.objectives if o.metric == m]
        rungs = es.rungs or rungs_from(grace_fraction(loaded, budgets_kimg), es.reduction_factor)
        return MOASHAScheduler(chosen, modes, rungs=rungs, reduction_factor=es.reduction_factor,
                               replicates=spec.replicates, time_attr=BUDGET_FRACTION,
                               budget_key=BUDGET_KEY)
    assert es.metric is not None
    mode = es.mode or names.direction(es.metric)
    grace = grace_fraction(loaded, budgets_kimg)
    if es.scheduler == "asha":
        return BudgetASHA(time_attr=BUDGET_FRACTION, metric=es.metric, mode=mode, max_t=1.0,
                          grace_period=grace, reduction_factor=es.reduction_factor,
                          stop_last_trials=False)
    return BudgetMedianStopping(time_attr=BUDGET_FRACTION, metric=es.metric, mode=mode,
                                grace_period=grace)
