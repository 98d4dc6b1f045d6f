"""The only module that imports ray: local or remote cluster, Tuner, searchers, trainable.

Ray Tune schedules the trials; each trial runs :func:`ambientsweep.trial.run_trial` and logs to
its own MLflow child run. The driver (this module's callbacks) sets each trial's final state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the live view below replaces Ray's tables
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # MLflow is the record
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import ray
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ambientsweep.errors import DivergedError, UserError
from ambientsweep.spec.load import LoadedSweep
from ambientsweep.spec.schema import Resources

BUDGET_KEY = "budget_complete"
DIVERGED_KEY = "diverged"
TIME_ATTR = "kimg"


# ----------------------------------------------------------------------------------------------
# Cluster.


@dataclass(frozen=True)
class Cluster:
    address: str | None
    nodes: list[dict[str, float]]  # resources of each alive node

    @property
    def total(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for n in self.nodes:
            for k, v in n.items():
                out[k] = out.get(k, 0.0) + v
        return out


def local_resources() -> dict[str, float]:
    """What a local Ray gets: all CPUs and the visible NVIDIA GPUs (without importing torch,
    which would cost the driver ~640 MB and seconds)."""
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(_visible_gpus())}


def _visible_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    gpus = Path("/proc/driver/nvidia/gpus")  # one entry per GPU the driver knows
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


def check_resources(resources: Resources, nodes: list[dict[str, float]], where: str) -> None:
    """A trial's request must fit on at least one node, or the trial would pend forever."""
    need = {"CPU": resources.cpu, "GPU": resources.gpu}
    if any(all(n.get(k, 0.0) >= v for k, v in need.items()) for n in nodes):
        return
    have = "; ".join(f"node {i}: {n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU"
                     for i, n in enumerate(nodes))
    raise UserError(
        f"resources: each trial asks for {resources.cpu:g} CPU and {resources.gpu:g} GPU, "
        f"but no node of {where} has that ({have}). Lower resources.cpu / resources.gpu "
        "or run against a cluster that has them (--address)."
    )


def start_ray(address: str | None, log_file: Path) -> Cluster:
    """Connect to `address` (or RAY_ADDRESS), or start a local Ray sized to this machine."""
    _log_ray_to_file(log_file)
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  logging_level=logging.WARNING, configure_logging=False)
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(f"cannot connect to the Ray cluster at {address}: {e}. "
                            "Check the address and, from Ray 2.59, the auth token "
                            "(RAY_AUTH_TOKEN or `ray get-auth-token`).") from None
    else:
        res = local_resources()
        if os.environ.get("AMBIENTSWEEP_RAY_TMPDIR"):  # tests: find and clean Ray by path
            kwargs["_temp_dir"] = os.environ["AMBIENTSWEEP_RAY_TMPDIR"]
        with _stderr_to(log_file):  # Ray's C++ start-up notices go to the log, not the terminal
            ray.init(num_cpus=int(res["CPU"]), num_gpus=int(res["GPU"]),
                     object_store_memory=512 * 1024**2, **kwargs)
    nodes = [{k: float(v) for k, v in n["Resources"].items() if k in ("CPU", "GPU")}
             for n in ray.nodes() if n.get("Alive")]
    return Cluster(address=address, nodes=nodes)


@contextlib.contextmanager
def _stderr_to(log_file: Path) -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_file, "ab") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def stop_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()


def _log_ray_to_file(log_file: Path) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("ray", "ray.tune", "ray.air", "ray.train"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                lg.removeHandler(h)
        lg.addHandler(handler)
        lg.propagate = False


# ----------------------------------------------------------------------------------------------
# Searchers.


class BudgetAwareOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna a trial is COMPLETE only if it trained its full budget.

    NOTE: upstream tells every finished trial as COMPLETE, so trials an early-stopping scheduler
    cut short would enter the multi-objective front (reference/platform.md §1, measured).
    """

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        from optuna.trial import TrialState

        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        ot_trial = self._ot_trials[trial_id]
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        if result and result.get(BUDGET_KEY) and all(m in result for m in metrics):
            values = [float(result[m]) for m in metrics]
            self._ot_study.tell(ot_trial, values if len(values) > 1 else values[0])
        elif error or (result and result.get(DIVERGED_KEY)):
            self._ot_study.tell(ot_trial, state=TrialState.FAIL)
        else:
            self._ot_study.tell(ot_trial, state=TrialState.PRUNED)
        self._completed_trials.add(trial_id)


class ReplicateSearcher(Searcher):
    """Runs every configuration the inner searcher suggests as `replicates` trials.

    The replicates share the configuration and differ in `replicate` (other data draws and
    training seed). The inner searcher (Optuna) is told once, when all replicates have ended:
    the mean of each objective over the replicates if all trained their full budget, otherwise
    pruned (or failed if any failed).
    """

    def __init__(self, inner: Searcher, replicates: int, metric: list[str],
                 mode: list[str]) -> None:
        super().__init__(metric=None, mode=None)
        self.inner, self.replicates = inner, replicates
        self.objectives = metric
        self._queue: list[tuple[str, dict, int]] = []  # (lead id, config, next replicate)
        self._lead: dict[str, str] = {}  # trial id -> lead trial id of its group
        self._ended: dict[str, dict[str, tuple[dict | None, bool]]] = {}

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
            return {**cfg, "replicate": rep}
        cfg = self.inner.suggest(trial_id)
        if not isinstance(cfg, dict):
            return cfg
        self._lead[trial_id] = trial_id
        self._ended[trial_id] = {}
        if self.replicates > 1:
            self._queue.append((trial_id, cfg, 1))
        return {**cfg, "replicate": 0}

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
            pickle.dump((blob, self._queue, self._lead, self._ended), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            blob, self._queue, self._lead, self._ended = pickle.load(f)
        with tempfile.TemporaryDirectory() as d:
            inner = Path(d) / "inner.pkl"
            inner.write_bytes(blob)
            self.inner.restore(str(inner))


# ----------------------------------------------------------------------------------------------
# Trainable.


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its searched params (pickled to the workers)."""

    loaded: LoadedSweep
    sweep: str
    uri: str
    experiment_id: str
    parent_run_id: str
    trials_dir: str  # SweepPaths.trials: one folder per trial id
    cache_dir: str


class _RayReporter:
    """Reports the latest value of every metric each time, so the last result has them all."""

    def __init__(self) -> None:
        self.latest: dict[str, float] = {}
        self.kimg = 0.0

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        # Per-round metrics (SFBD) come with step = round: the time axis only moves forward.
        self.kimg = max(self.kimg, step / 1000.0)
        self.latest.update(metrics)
        tune.report({**self.latest, TIME_ATTR: self.kimg})

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        return None

    def set_tags(self, tags: dict[str, str]) -> None:
        return None


@dataclass
class _Tee:
    parts: list[Any] = field(default_factory=list)

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        for p in self.parts:
            p.report(metrics, step=step)

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        for p in self.parts:
            p.artifact(path, subdir)

    def set_tags(self, tags: dict[str, str]) -> None:
        for p in self.parts:
            p.set_tags(tags)


def split_params(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Searched dotted params and the replicate index from a Tune config dict."""
    replicate = int(config.get("replicate", 0))
    params = dict(config["point"]) if "point" in config else {
        k: v for k, v in config.items() if k != "replicate"}
    return params, replicate


def make_trainable(ctx: TrialContext) -> Callable[[dict[str, Any]], None]:
    def trainable(config: dict[str, Any]) -> None:
        from ambientsweep.tracking import mlflow_log
        from ambientsweep.trial import run_trial

        params, replicate = split_params(config)
        cfg = ctx.loaded.trial_config(params, replicate)
        trial_id = tune.get_context().get_trial_id()
        ray_rep = _RayReporter()
        done = mlflow_log.find_finished(ctx.uri, ctx.experiment_id, ctx.parent_run_id,
                                        cfg.config_hash())
        if done is not None:  # finished before an interruption Ray's state did not record
            ray_rep.report({**done, BUDGET_KEY: 1.0}, step=int(done.get(TIME_ATTR, 0) * 1000))
            return
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in params.items())
        run_params = {f"param.{k}": v for k, v in params.items()}
        run_params.update(_flatten(cfg.model_dump(mode="json")))
        ml = mlflow_log.MlflowTrialReporter(
            ctx.uri, ctx.experiment_id, ctx.parent_run_id, ctx.sweep, trial_id,
            run_name=f"{label} r{replicate}" if label else f"r{replicate}",
            params=run_params, tags={mlflow_log.TAG_CONFIG_HASH: cfg.config_hash(),
                                     mlflow_log.TAG_GROUP: cfg.group_id()})
        ml.set_tags({"ray.node_id": ray.get_runtime_context().get_node_id()})
        workdir = Path(ctx.trials_dir) / trial_id
        try:
            run_trial(cfg, _Tee([ray_rep, ml]), workdir, cache_dir=Path(ctx.cache_dir))
        except DivergedError as e:
            ml.set_tags({mlflow_log.TAG_REASON: f"loss became NaN or infinite: {e}"})
            ray_rep.report({DIVERGED_KEY: 1.0}, step=int(ray_rep.kimg * 1000))
        except Exception as e:
            ml.fail(e, workdir)
            raise

    return trainable


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


# ----------------------------------------------------------------------------------------------
# Driver callbacks: final trial states and the live view.


def final_state(result: dict | None, errored: bool) -> tuple[str, str | None]:
    """(state, reason) of an ended trial from its last result."""
    r = result or {}
    if errored:
        return "failed", "raised an exception (traceback.txt in the run's artifacts)"
    if r.get(BUDGET_KEY):
        return "complete", None
    if r.get(DIVERGED_KEY):
        return "failed", "loss became NaN or infinite"
    return "pruned", "stopped early by the scheduler"


def ended_states(grid: tune.ResultGrid) -> dict[str, tuple[str, str | None]]:
    """Final states of every ended trial in Ray's results (to reconcile the tracking store)."""
    out = {}
    for r in grid:
        trial_id = (r.metrics or {}).get("trial_id")
        if trial_id and (r.metrics or r.error):
            out[trial_id] = final_state(r.metrics, r.error is not None)
    return out


class TrialStates(tune.Callback):
    """Sets each trial's final state in MLflow (only the driver sees pruning and errors).

    A tracking store that cannot be reached does not stop the sweep: the state is kept in
    `unrecorded` and written when the sweep ends (or by the next run of the same command).
    """

    def __init__(self, mark: Callable[[str, str, str | None], None]) -> None:
        self.mark = mark
        self.states: dict[str, str] = {}
        self.unrecorded: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the run config into its experiment state; the MLflow client is not
        # picklable and is given back on restore (see `fit`).
        return {"states": self.states, "mark": _no_mark, "unrecorded": {}}

    def _set(self, trial_id: str, state: str, reason: str | None) -> None:
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
        self._set(trial.trial_id, "failed",
                  f"raised after {trial.num_failures} attempt(s) (traceback.txt in the run's "
                  "artifacts)")


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _no_mark(trial_id: str, state: str, reason: str | None) -> None:
    return None


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

    def _line(self, trials: list[Trial]) -> str:
        counts = {"done": 0, "running": 0, "pending": 0, "failed": 0, "pruned": 0}
        for t in trials:
            s = self.states.states.get(t.trial_id)
            if s == "complete":
                counts["done"] += 1
            elif s in ("failed", "pruned"):
                counts[s] += 1
            elif t.status == Trial.RUNNING:
                counts["running"] += 1
            elif t.status in (Trial.PENDING, Trial.PAUSED):
                counts["pending"] += 1
        el = int(time.monotonic() - self.t0)
        total = f"/{self.total}" if self.total else ""
        best = ", ".join(f"{m} {self.best[m]:.4g}" for m, _ in self.objectives if m in self.best)
        progress = ""
        if self.max_kimg and counts["running"]:
            done = [min(1.0, float((t.last_result or {}).get(TIME_ATTR, 0.0)) / self.max_kimg)
                    for t in trials if t.status == Trial.RUNNING]
            progress = " (" + " ".join(f"{p:.0%}" for p in done) + ")"
        parts = [f"[{el // 60:02d}:{el % 60:02d}]", f"done {counts['done']}{total}",
                 f"running {counts['running']}{progress}", f"pending {counts['pending']}",
                 f"failed {counts['failed']}"]
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
        state = self.states.states.get(trial.trial_id, "?")
        if state == "complete":
            for m, mode in self.objectives:
                if m in r:
                    v = float(r[m])
                    if m not in self.best or (v < self.best[m]) == (mode == "min"):
                        self.best[m] = v
        vals = "  ".join(f"{m}={float(r[m]):.4g}" for m, _ in self.objectives if m in r)
        params, rep = split_params(trial.config)
        label = ", ".join(f"{k}={_short(v)}" for k, v in params.items())
        secs = r.get("trial_seconds", r.get("time_total_s", 0.0))
        print(f"  {state:8s} {trial.trial_id}  {label} r{rep}  {vals}  ({secs:.0f} s)",
              file=self.out, flush=True)
        print(self._line(trials), file=self.out, flush=True)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        print(f"  failed   {trial.trial_id}  (see {trial.local_path or 'the Ray log'})",
              file=self.out, flush=True)


# ----------------------------------------------------------------------------------------------
# Tuner.


@dataclass(frozen=True)
class TuneSetup:
    name: str
    storage_path: str
    param_space: dict[str, Any]
    search_alg: Searcher | None
    scheduler: Any
    num_samples: int
    max_concurrent: int | None
    resources: dict[str, float]
    max_failures: int


def build_search(loaded: LoadedSweep, points: list[dict[str, Any]] | None,
                 num_trials: int | None) -> tuple[dict[str, Any], Searcher | None, int]:
    """(param_space, search_alg, num_samples) for the spec's algorithm."""
    from ambientsweep.search.space import define_by_run, optuna_sampler

    spec = loaded.spec
    reps = list(range(spec.replicates))
    if spec.search.algorithm == "grid":
        assert points is not None
        space: dict[str, Any] = {"point": tune.grid_search(points)}
        if spec.replicates > 1:
            space["replicate"] = tune.grid_search(reps)
        return space, None, 1
    inner = BudgetAwareOptunaSearch(space=define_by_run(spec), metric=spec.metric_names,
                                    mode=spec.directions, sampler=optuna_sampler(spec),
                                    seed=spec.seed)
    searcher = ReplicateSearcher(inner, spec.replicates, spec.metric_names, spec.directions)
    assert num_trials is not None
    return {}, searcher, num_trials * spec.replicates


def build_scheduler(loaded: LoadedSweep, max_kimg: float) -> Any:
    es = loaded.spec.early_stopping
    if es is None:
        return None
    from ambientsweep.metrics import names

    mode = es.mode or names.direction(es.metric)
    if es.scheduler == "asha":
        return ASHAScheduler(time_attr=TIME_ATTR, metric=es.metric, mode=mode,
                             max_t=max_kimg, grace_period=es.grace_kimg,
                             reduction_factor=es.reduction_factor)
    return MedianStoppingRule(time_attr=TIME_ATTR, metric=es.metric, mode=mode,
                              grace_period=es.grace_kimg)


def fit(setup: TuneSetup, trainable: Callable[[dict[str, Any]], None],
        callbacks: list[tune.Callback], resume: bool) -> tune.ResultGrid:
    """Run (or resume) the Tuner; finished trials are never run twice."""
    wrapped = tune.with_resources(trainable, setup.resources)
    path = str(Path(setup.storage_path) / setup.name)
    run_config = tune.RunConfig(
        name=setup.name, storage_path=setup.storage_path, verbose=0, callbacks=callbacks,
        failure_config=tune.FailureConfig(max_failures=setup.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    if resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=wrapped, resume_unfinished=True,
                                   resume_errored=True, param_space=setup.param_space or None)
        # NOTE: the restored run config holds pickled copies of the callbacks without their
        # MLflow client and terminal; give the live ones back.
        tuner._local_tuner._run_config.callbacks = callbacks
    else:
        tuner = tune.Tuner(
            wrapped, param_space=setup.param_space,
            tune_config=tune.TuneConfig(
                search_alg=setup.search_alg, scheduler=setup.scheduler,
                num_samples=setup.num_samples, max_concurrent_trials=setup.max_concurrent,
                reuse_actors=True),
            run_config=run_config,
        )
    return tuner.fit()
