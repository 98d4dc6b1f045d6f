"""MOASHA as a Ray Tune scheduler: multi-objective asynchronous successive halving.

The ranking and the per-configuration bookkeeping are Ray-free
(:mod:`ambientsweep.search.moasha_rank`, which documents the rule and cites it); this class only
feeds Ray's trial results to it and turns its answers into Ray decisions:

- It acts only on results that carry **all** its metrics and the time attribute (evaluation
  points, ``eval.every_kimg``); training reports that carry only ``loss`` pass through with
  CONTINUE. Its ``metric`` stays None, so Ray's strict metric check never asks every result for
  the objectives.
- The time attribute is the trial's own fraction of its budget (``budget_fraction``, 0..1); a
  result with ``budget_complete`` counts as the full budget and is never stopped.
- A configuration is the trial's searched parameters without ``replicate``; its replicates are
  decided together, and once a configuration is stopped each of its replicates still running
  gets STOP at its next result.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from ambientsweep.search.keys import BUDGET_FRACTION, BUDGET_KEY
from ambientsweep.search.moasha_rank import STOP, MultiObjectiveRungs
from ambientsweep.search.searchers import split_params

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["BUDGET_FRACTION", "MOASHAScheduler", "configuration_key"]


def configuration_key(config: dict[str, Any]) -> tuple[str, int]:
    """(configuration key, replicate) of a Tune trial config: the searched params as JSON."""
    params, replicate = split_params(config)
    return json.dumps(params, sort_keys=True, default=str), replicate


class MOASHAScheduler(FIFOScheduler):
    """Stops the configurations that rank below the top 1/reduction_factor at a rung, ranked by
    non-dominated sorting and crowding distance over ``metrics``."""

    _supports_buffered_results = False  # a decision per result, not per batch

    def __init__(self, metrics: Sequence[str], modes: Sequence[Literal["min", "max"]],
                 rungs: Sequence[float], reduction_factor: float, replicates: int = 1,
                 time_attr: str = BUDGET_FRACTION,
                 budget_key: str = BUDGET_KEY) -> None:
        super().__init__()
        if len(metrics) != len(modes) or not metrics:
            raise ValueError("MOASHAScheduler needs one mode per metric, at least one metric")
        self.metrics, self.time_attr, self.budget_key = list(metrics), time_attr, budget_key
        self.table = MultiObjectiveRungs(rungs=list(rungs), reduction_factor=reduction_factor,
                                         modes=list(modes), replicates=replicates)
        self._metric = None  # no single metric: Ray must not check every result for one

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True  # metrics and modes come from the sweep's objectives, not from the Tuner

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        key, replicate = configuration_key(trial.config)
        full = bool(result.get(self.budget_key))
        if key in self.table.stopped and not full:
            return TrialScheduler.STOP  # a sibling of a stopped configuration
        if self.time_attr not in result or any(m not in result for m in self.metrics):
            return TrialScheduler.CONTINUE  # not an evaluation point
        fraction = 1.0 if full else float(result[self.time_attr])
        action = self.table.on_result(key, replicate, fraction,
                                      [float(result[m]) for m in self.metrics])
        return TrialScheduler.STOP if action == STOP else TrialScheduler.CONTINUE

    def debug_string(self) -> str:
        rungs = ", ".join(f"{r:.3g}: {len(t)}" for r, t in zip(self.table.rungs,
                                                              self.table.recorded, strict=True))
        return (f"MOASHA on {', '.join(self.metrics)} (reduction factor "
                f"{self.table.reduction_factor:g}); configurations recorded per rung {rungs}; "
                f"{len(self.table.stopped)} stopped")

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))
