"""Driver-side Tune callbacks: each trial's final state in the record, and the live view.

Only the driver sees pruning and errors, so it, not the trial, sets the final state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from ray import tune
from ray.tune.experiment import Trial

from ambientsweep.metrics import names
from ambientsweep.search.keys import (
    BUDGET_KEY,
    DIVERGED_KEY,
    INVALID_KEY,
    REASON_KEY,
    REUSED_KEY,
    TIME_ATTR,
)
from ambientsweep.search.searchers import split_params
from ambientsweep.tracking.tags import TAG_RUN_ID, TrialState

# Sets a trial's final state in the record: (trial id, state, reason).
Mark = Callable[[str, TrialState, "str | None"], None]


def final_state(result: dict | None, errored: bool) -> tuple[TrialState, str | None]:
    """(state, reason) of an ended trial from its last result."""
    r = result or {}
    if errored:
        return TrialState.FAILED, "raised an exception (traceback.txt in the run's artifacts)"
    if r.get(INVALID_KEY):
        return TrialState.FAILED, str(r.get(REASON_KEY) or "invalid configuration")
    if r.get(BUDGET_KEY):
        return TrialState.COMPLETE, str(r[REASON_KEY]) if r.get(REUSED_KEY) else None
    if r.get(REUSED_KEY):
        state = TrialState.FAILED if r.get(DIVERGED_KEY) else TrialState.PRUNED
        return state, str(r.get(REASON_KEY))
    if r.get(DIVERGED_KEY):
        return TrialState.FAILED, "loss became NaN or infinite"
    return TrialState.PRUNED, "stopped early by the scheduler"


def ended_states(grid: tune.ResultGrid) -> dict[str, tuple[TrialState, str | None]]:
    """Final states of every ended trial in Ray's results (to reconcile the tracking store)."""
    out = {}
    for r in grid:
        trial_id = (r.metrics or {}).get("trial_id")
        if trial_id and (r.metrics or r.error):
            out[trial_id] = final_state(r.metrics, r.error is not None)
    return out


def ended_counts(grid: tune.ResultGrid) -> dict[str, int]:
    """Trials per final state among Ray's results: completion is counted from these, not from
    the store's rows (a reused repeat has no row; a trial that raised before its first report
    has no trial id in its metrics but has an error)."""
    counts: dict[str, int] = {}
    for r in grid:
        if r.metrics or r.error:
            state = final_state(r.metrics, r.error is not None)[0].value
            counts[state] = counts.get(state, 0) + 1
    return counts


def run_ids(grid: tune.ResultGrid) -> set[str]:
    """The MLflow run ids the trials in Ray's results reported (the runs they own)."""
    out = set()
    for r in grid:
        rid = (r.metrics or {}).get(TAG_RUN_ID)
        if rid:
            out.add(str(rid))
    return out


class TrialStates(tune.Callback):
    """Sets each trial's final state in the record through `mark`.

    A tracking store that cannot be reached does not stop the sweep: the state is kept in
    `unrecorded` and written when the sweep ends (or by the next run of the same command).
    """

    def __init__(self, mark: Mark) -> None:
        self.mark = mark
        self.states: dict[str, TrialState] = {}
        self.unrecorded: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the callbacks into its experiment state; `mark` holds the store's client,
        # which is not picklable. A resumed run passes live callbacks again (tuner.fit).
        return {"states": self.states, "mark": _no_mark, "unrecorded": {}}

    def _set(self, trial_id: str, state: TrialState, reason: str | None) -> None:
        self.states[trial_id] = state
        try:
            self.mark(trial_id, state, reason)
        except Exception as e:
            self.unrecorded[trial_id] = f"{type(e).__name__}: {e}"

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        self._set(trial.trial_id, *final_state(trial.last_result, errored=False))

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        self._set(trial.trial_id, TrialState.FAILED,
                  f"raised after {trial.num_failures} attempt(s) (traceback.txt in the run's "
                  "artifacts)")


def _no_mark(trial_id: str, state: TrialState, reason: str | None) -> None:
    return None


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class LiveView(tune.Callback):
    """A compact terminal view: counts, elapsed time, best objective values so far."""

    def __init__(self, objectives: list[tuple[str, str]], states: TrialStates, out: TextIO,
                 every_s: float = 30.0, total: int | None = None,
                 max_kimg: float | None = None) -> None:
        self.objectives, self.states, self.out = objectives, states, out
        self.every_s, self.total, self.max_kimg = every_s, total, max_kimg
        self.t0 = time.monotonic()
        self._last = 0.0
        self.best: dict[str, float] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["out"] = None
        return state

    def _counts(self, trials: list[Trial]) -> dict[str, int]:
        counts = {"done": 0, "running": 0, "pending": 0, "failed": 0, "pruned": 0}
        for t in trials:
            s = self.states.states.get(t.trial_id)
            if s is None and t.status in (Trial.TERMINATED, Trial.ERROR):
                # Ended in an earlier run of a resumed sweep: no callback fires for it now.
                s = final_state(t.last_result, errored=t.status == Trial.ERROR)[0]
            if s == TrialState.COMPLETE:
                counts["done"] += 1
            elif s in (TrialState.FAILED, TrialState.PRUNED):
                counts[s.value] += 1
            elif t.status == Trial.RUNNING:
                counts["running"] += 1
            elif t.status in (Trial.PENDING, Trial.PAUSED):
                counts["pending"] += 1
        return counts

    def _progress(self, trials: list[Trial]) -> str:
        running = [t for t in trials if t.status == Trial.RUNNING]
        if not (self.max_kimg and running):
            return ""
        done = [min(1.0, float((t.last_result or {}).get(TIME_ATTR, 0.0)) / self.max_kimg)
                for t in running]
        return " (" + " ".join(f"{p:.0%}" for p in done) + ")"

    def _line(self, trials: list[Trial]) -> str:
        counts = self._counts(trials)
        el = int(time.monotonic() - self.t0)
        total = f"/{self.total}" if self.total else ""
        best = ", ".join(f"{m} {self.best[m]:.4g}" for m, _ in self.objectives if m in self.best)
        parts = [f"[{el // 60:02d}:{el % 60:02d}]", f"done {counts['done']}{total}",
                 f"running {counts['running']}{self._progress(trials)}",
                 f"pending {counts['pending']}", f"failed {counts['failed']}"]
        if counts["pruned"]:
            parts.append(f"pruned {counts['pruned']}")
        return "  ".join(parts) + (f"  | best {best}" if best else "")

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            print(self._line(trials), file=self.out, flush=True)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        r = trial.last_result or {}
        state = self.states.states.get(trial.trial_id)
        if state == TrialState.COMPLETE:
            for m, mode in self.objectives:
                if m in r:
                    v = float(r[m])
                    if m not in self.best or (v < self.best[m]) == (mode == "min"):
                        self.best[m] = v
        vals = "  ".join(f"{m}={float(r[m]):.4g}" for m, _ in self.objectives if m in r)
        params, rep = split_params(trial.config)
        label = ", ".join(f"{k}={_short(v)}" for k, v in params.items())
        secs = r.get(names.TRIAL_SECONDS, r.get("time_total_s", 0.0))
        shown = state.value if state else "?"
        print(f"  {shown:8s} {trial.trial_id}  {label} r{rep}  {vals}  ({secs:.0f} s)",
              file=self.out, flush=True)
        print(self._line(trials), file=self.out, flush=True)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        print(f"  failed   {trial.trial_id}  (see {trial.local_path or 'the Ray log'})",
              file=self.out, flush=True)
