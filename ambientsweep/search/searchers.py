"""The searchers Ray drives: grid points, replicate groups, budget-aware Optuna.

Grid search is Ray's own ``grid_search`` over whole points (and replicates); random and
Optuna search run an Optuna sampler through :class:`BudgetAwareOptunaSearch`, wrapped in
:class:`ReplicateSearcher` so every suggested configuration runs as `replicates` trials.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ambientsweep.search.algorithms import GRID
from ambientsweep.search.keys import (
    BUDGET_KEY,
    DIVERGED_KEY,
    INVALID_KEY,
    POINT_KEY,
    REPLICATE_KEY,
    REUSE_KEY,
    TRIAL_KEY,
)
from ambientsweep.spec.load import LoadedSweep


class BudgetAwareOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna a trial is COMPLETE only if it trained its full budget.

    NOTE: upstream tells every finished trial with its metrics as COMPLETE, so trials an
    early-stopping scheduler cut short would enter the multi-objective front
    (reference/platform.md §1, measured). This translates the result into what upstream
    reads: the objectives (COMPLETE), no result with an error (FAIL), or none (PRUNED).
    """

    reconciled: list[int] | None = None  # study trials marked failed on (re)start

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.reconciled is None:  # a new sweep over a journal a dead driver left behind
            self._reconcile()
        return super().suggest(trial_id)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self._reconcile()

    def _reconcile(self) -> None:
        """Journal trials RUNNING that this searcher's state does not know: marked failed."""
        from ambientsweep.search.study import reconcile

        if self._storage is None:
            self.reconciled = []
            return
        self.reconciled = reconcile(self._ot_study,
                                    [t.number for t in self._ot_trials.values()])

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return  # told already (a replicate group), or never suggested by this study
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        if result and result.get(BUDGET_KEY) and all(m in result for m in metrics):
            super().on_trial_complete(trial_id, {m: float(result[m]) for m in metrics})
        else:
            failed = error or bool(result and (result.get(DIVERGED_KEY)
                                               or result.get(INVALID_KEY)))
            super().on_trial_complete(trial_id, None, error=failed)


class ReplicateSearcher(Searcher):
    """Runs every configuration the inner searcher suggests as `replicates` trials.

    The replicates share the configuration and differ in `replicate` (other data draws and
    training seed). The inner searcher (Optuna) is told once, when all replicates have ended:
    the mean of each objective over the replicates if all trained their full budget, otherwise
    pruned (or failed if any failed).

    A proposal that repeats a configuration already suggested (Optuna's samplers do, e.g. on
    a small categorical space) is not trained again: its trials carry ``reuse_of`` (the first
    proposal's lead trial id) and the trainable answers them from that configuration's run,
    waiting for it when it still runs. Their results reach the inner searcher like any other,
    so Optuna is told the repeated value (or pruned / failed) and its model is not starved.
    """

    def __init__(self, inner: Searcher, replicates: int, metric: list[str],
                 mode: list[str]) -> None:
        super().__init__(metric=None, mode=None)
        self.inner, self.replicates = inner, replicates
        self.objectives = metric
        self._queue: list[tuple[str, dict, int]] = []  # (lead id, config, next replicate)
        self._lead: dict[str, str] = {}  # trial id -> lead trial id of its group
        self._ended: dict[str, dict[str, tuple[dict | None, bool]]] = {}
        self._first: dict[str, str] = {}  # configuration signature -> first lead trial id

    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return False

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._queue:
            lead, cfg, rep = self._queue[0]
            if rep + 1 < self.replicates:
                self._queue[0] = (lead, cfg, rep + 1)
            else:
                self._queue.pop(0)
            self._lead[trial_id] = lead
            return {**cfg, REPLICATE_KEY: rep}
        cfg = self.inner.suggest(trial_id)
        if not isinstance(cfg, dict):
            return cfg
        self._lead[trial_id] = trial_id
        self._ended[trial_id] = {}
        sig = signature(cfg)
        if sig in self._first:
            cfg = {**cfg, REUSE_KEY: self._first[sig]}
        else:
            self._first[sig] = trial_id
        if self.replicates > 1:
            self._queue.append((trial_id, cfg, 1))
        return {**cfg, REPLICATE_KEY: 0}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        return None

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        lead = self._lead.get(trial_id)
        if lead is None:
            return
        ended = self._ended.setdefault(lead, {})
        ended[trial_id] = (result, error)
        if len(ended) < self.replicates:
            return
        results = [r for r, _ in ended.values()]
        if all(r and r.get(BUDGET_KEY) for r in results):
            mean = {m: sum(float(r[m]) for r in results if r) / len(results)
                    for m in self.objectives}
            self.inner.on_trial_complete(lead, {**mean, BUDGET_KEY: 1.0})
        else:
            failed = any(e or (r and r.get(DIVERGED_KEY)) for r, e in ended.values())
            self.inner.on_trial_complete(lead, {DIVERGED_KEY: 1.0} if failed else None,
                                         error=failed)

    def save(self, checkpoint_path: str) -> None:
        # One file: Ray syncs only the searcher-state file it named, so the inner state rides
        # inside it.
        with tempfile.TemporaryDirectory() as d:
            inner = Path(d) / "inner.pkl"
            self.inner.save(str(inner))
            blob = inner.read_bytes()
        with open(checkpoint_path, "wb") as f:
            pickle.dump((blob, self._queue, self._lead, self._ended, self._first), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            blob, self._queue, self._lead, self._ended, *first = pickle.load(f)
        self._first = first[0] if first else {}
        with tempfile.TemporaryDirectory() as d:
            inner = Path(d) / "inner.pkl"
            inner.write_bytes(blob)
            self.inner.restore(str(inner))


def signature(params: dict[str, Any]) -> str:
    """One string per configuration of searched values (key order and float spelling aside)."""
    items = {k: v for k, v in params.items() if k not in (REPLICATE_KEY, REUSE_KEY)}
    return repr(sorted((k, repr(v)) for k, v in items.items()))


def split_params(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Searched dotted params and the replicate index from a Tune config dict."""
    config = config.get(TRIAL_KEY, config)  # grid: {trial: {point: ..., replicate: ...}}
    replicate = int(config.get(REPLICATE_KEY, 0))
    params = dict(config[POINT_KEY]) if POINT_KEY in config else {
        k: v for k, v in config.items() if k not in (REPLICATE_KEY, REUSE_KEY)}
    return params, replicate


def build_search(loaded: LoadedSweep, points: list[dict[str, Any]] | None,
                 num_trials: int | None, study_file: Path | None = None,
                 ) -> tuple[dict[str, Any], Searcher | None, int]:
    """(param_space, search_alg, num_samples) for the spec's algorithm; an Optuna search
    keeps its study in the journal `study_file` (:mod:`ambientsweep.search.study`)."""
    from ambientsweep.search.space import define_by_run, optuna_sampler
    from ambientsweep.search.study import journal_storage

    spec = loaded.spec
    if spec.search.algorithm == GRID:
        assert points is not None
        # One grid over (point, replicate) in configuration-major order: a configuration's
        # replicates start one after another, so they reach each early-stopping rung together
        # (MOASHA decides a configuration once all its replicates are there).
        space: dict[str, Any] = {TRIAL_KEY: tune.grid_search(
            [{POINT_KEY: p, REPLICATE_KEY: r} for p in points for r in range(spec.replicates)])}
        return space, None, 1
    inner = BudgetAwareOptunaSearch(space=define_by_run(spec), metric=spec.metric_names,
                                    mode=spec.directions, sampler=optuna_sampler(spec),
                                    seed=spec.seed, study_name=spec.name,
                                    storage=journal_storage(study_file) if study_file else None)
    searcher = ReplicateSearcher(inner, spec.replicates, spec.metric_names, spec.directions)
    assert num_trials is not None
    return {}, searcher, num_trials * spec.replicates
