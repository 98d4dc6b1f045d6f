"""Plan and run a sweep: validation first, then Ray Tune + MLflow, then the Pareto exports.

Order matters for "bad input loses nothing": the spec, the work dir, the tracking URI and the
resources are all checked before the tracking store or the sweep folder is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ambientsweep.analysis.formats import RUN_FORMATS
from ambientsweep.errors import UserError
from ambientsweep.search.algorithms import GRID
from ambientsweep.spec.load import LoadedSweep, grid_points, load_sweep
from ambientsweep.tracking.tags import TrialState, ended_count
from ambientsweep.versions import SCHEMA_VERSION, TAG_SCHEMA_VERSION, VERSION_KEY, check_version
from ambientsweep.workdir import SweepPaths, check_writable, sweep_paths

if TYPE_CHECKING:
    from ambientsweep.search.cluster import Cluster
    from ambientsweep.search.tuner import ResultGrid
    from ambientsweep.spec.schema import SweepSpec
    from ambientsweep.tracking.mlflow_log import SweepTracking

# Tiny budget for `--smoke`: every phase trains a few hundred images, evaluates 64 samples.
# A method with its own budget keys adds them (its spec's `smoke_overrides`).
SMOKE_OVERRIDES: dict[str, Any] = {
    "train.kimg": 0.64, "train.log_every_kimg": 0.32, "eval.num_samples": 64,
    "eval.every_kimg": None, "sampler.steps": 6,
}


@dataclass(frozen=True)
class Plan:
    loaded: LoadedSweep
    paths: SweepPaths
    uri: str
    experiment: str
    points: list[dict[str, Any]] | None  # grid points (None for random / optuna)
    num_configs: int
    num_trials: int  # configs x replicates
    smoke: bool
    system_metrics: bool = False  # MLflow's system metrics on every trial run (needs psutil)
    formats: tuple[str, ...] = RUN_FORMATS  # exports written at the end (`run --format`)

    @property
    def spec(self) -> SweepSpec:
        return self.loaded.spec

    def spec_hash(self) -> str:
        """Hash of what the sweep trains: execution-only keys and resources left out, so a
        sweep folder moved to another machine layout (data root, threads) still resumes."""
        import hashlib

        from ambientsweep.config import EXECUTION_ONLY

        spec = self.spec.model_dump(mode="json", exclude={"resources": True,
                                                          "execution": {"address"}})
        spec["overrides"] = {k: v for k, v in spec["overrides"].items()
                             if k not in EXECUTION_ONLY}
        base = json.loads(json.dumps(self.loaded.base, default=str))
        for dotted in EXECUTION_ONLY:
            section, _, leaf = dotted.partition(".")
            if isinstance(base.get(section), dict):
                base[section].pop(leaf, None)
        blob = json.dumps({"spec": spec, "base": base, "trials": self.num_configs},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_plan(sweep_file: str | Path, *, workdir: str | Path, tracking_uri: str | None = None,
              max_trials: int | None = None, smoke: bool = False,
              allow_large: bool = False, system_metrics: bool = False) -> Plan:
    """Validate everything that can be checked without starting Ray; writes nothing."""
    if system_metrics:
        from ambientsweep.tracking.system_metrics import check_available

        check_available()
    loaded = load_sweep(sweep_file, allow_large=allow_large)
    spec = loaded.spec
    if smoke:
        from ambientsweep.methods import method_spec

        over = {**SMOKE_OVERRIDES, **method_spec(loaded.method_kind).smoke_overrides}
        spec = spec.model_copy(update={"name": f"{spec.name}-smoke"})
        loaded = dataclasses.replace(loaded.with_overrides(over), spec=spec)
        max_trials = max_trials or 2
    root = loaded.base.get("data", {}).get("root")
    if root and not Path(root).expanduser().is_absolute():  # Ray trials run elsewhere
        loaded = loaded.with_overrides({"data.root": str(Path(root).expanduser().resolve())})
    paths = sweep_paths(workdir, spec.name, spec.execution.storage_path)
    check_writable(paths.root)
    from ambientsweep.tracking.uri import store_uri

    uri = store_uri(paths.root, tracking_uri or spec.tracking.uri, existing=False)
    points = None
    if spec.search.algorithm == GRID:
        points = grid_points(spec)
        if max_trials is not None:
            points = points[: max(1, math.ceil(max_trials / spec.replicates))]
        num_configs = len(points)
    else:
        num_configs = spec.search.num_trials or 1
        if max_trials is not None:
            num_configs = min(num_configs, max(1, math.ceil(max_trials / spec.replicates)))
    for p in points or []:
        loaded.trial_config(p)  # every grid point validated (already done in load_sweep)
    return Plan(loaded=loaded, paths=paths, uri=uri, experiment=spec.tracking.experiment or
                spec.name, points=points, num_configs=num_configs,
                num_trials=num_configs * spec.replicates, smoke=smoke,
                system_metrics=system_metrics)


def environment_problems(plan: Plan, address: str | None) -> list[str]:
    """What this machine lacks for the plan: data folders, GPUs, CPUs (local Ray only)."""
    problems = []
    cfg = plan.loaded.trial_config(plan.points[0] if plan.points else {})
    data = cfg.data
    if data.name != "digits" and not data.download and (
            data.root is None or not Path(data.root).expanduser().is_dir()):
        hint = "" if data.name == "imagefolder" else "; or set data.download: true to fetch it"
        problems.append(f"{plan.loaded.path}: data.root: folder {data.root} for dataset "
                        f"{data.name!r} does not exist{hint}")
    problems += weights_problems(plan)
    if not (address or plan.spec.execution.address):
        from ambientsweep.search.resources import check_resources, local_resources

        here = local_resources()
        try:
            check_resources(plan.spec.resources, [here], "this machine")
        except UserError as e:
            problems.append(str(e))
        if cfg.train.device == "cuda" and here["GPU"] == 0:
            problems.append("train.device is 'cuda' but this machine has no GPU")
    return problems


def weights_problems(plan: Plan) -> list[str]:
    """Feature extractors the trials need whose weights are not in the cache (the fetch
    command's message), before anything starts rather than inside the first trial."""
    from ambientsweep.errors import WeightsMissingError
    from ambientsweep.metrics.weights import require_weights

    configs = [plan.loaded.trial_config(p) for p in (plan.points or [{}])]
    problems = []
    if any(c.eval.features == "inception" for c in configs):
        try:
            require_weights("inception", plan.paths.cache)
        except WeightsMissingError as e:
            problems.append(f"{plan.loaded.path}: eval.features: {e}")
    if any(c.eval.dinov2 for c in configs):
        from ambientsweep.metrics.features import dinov2_features

        try:
            dinov2_features(plan.paths.cache, device=None)  # type: ignore[arg-type]
        except WeightsMissingError as e:
            problems.append(f"{plan.loaded.path}: eval.dinov2: {e}")
    return problems


def _check_state(plan: Plan, resume: bool) -> bool:
    """Whether this is a resume; errors when the folder holds another spec or resume is off."""
    state = plan.paths.state_file
    if not state.is_file():
        return False
    saved = json.loads(state.read_text())
    if resume and plan.spec.execution.resume != "never":
        check_version(saved.get(VERSION_KEY), "resume", f"sweep folder {plan.paths.sweep_dir}",
                      fix=f"Its results stay readable (ambientsweep pareto {plan.spec.name} "
                      f"--workdir {plan.paths.root}); to run the sweep with this version, give "
                      "it another name (name: in the sweep file) or another --workdir.")
    if not resume or plan.spec.execution.resume == "never":
        raise UserError(
            f"sweep {plan.spec.name!r} already exists in {plan.paths.sweep_dir}; rerun with "
            "--resume to continue it, or give the sweep another name")
    if saved.get("spec_hash") != plan.spec_hash():
        raise UserError(
            f"sweep {plan.spec.name!r} in {plan.paths.sweep_dir} was started from a different "
            "spec; it cannot be resumed with this one. Rename the sweep (name:) to start anew.")
    return True


def max_kimg(plan: Plan) -> float:
    """Total kimg a full-budget trial trains (the live view's progress axis)."""
    return max(budgets_kimg(plan))


def budgets_kimg(plan: Plan) -> list[float]:
    """Full budgets (kimg) of the sweep's configurations (grid points; the base otherwise)."""
    return [plan.loaded.trial_config(p).total_kimg for p in (plan.points or [{}])]


@dataclass
class Outcome:
    state: str  # complete | interrupted | tracking_lost
    counts: dict[str, int]
    seconds: float
    exports: dict[str, Path]

    @property
    def exit_code(self) -> int:
        """The command's exit status (README, "Exit status"): 0 every trial ended complete or
        pruned; 3 the sweep finished but some trials failed (the front is the rest's); 1 it
        could not finish (tracking lost, or every trial failed); 130 interrupted."""
        if self.state == "interrupted":
            return 130
        if self.state != "complete":
            return 1
        failed = self.counts.get(TrialState.FAILED.value, 0)
        if failed and failed == sum(self.counts.values()):
            return 1
        return 3 if failed else 0


def run_sweep(plan: Plan, *, address: str | None = None, resume: bool = True,
              out: TextIO | None = None) -> Outcome:
    """Run (or resume) the planned sweep; returns when every trial ended or on interruption."""
    out = out or sys.stdout
    address = address or plan.spec.execution.address
    problems = environment_problems(plan, address)
    if problems:
        raise UserError("\n".join(problems))
    from ambientsweep import lock

    with lock.holding(plan.paths.sweep_dir):  # one driver per sweep folder, from the start
        resumed = _check_state(plan, resume)
        from ambientsweep.tracking.uri import fresh_store

        if not fresh_store(plan.uri):  # a new SQLite file has no parent: skip MLflow's import
            from ambientsweep.tracking.mlflow_log import check_parent_version

            # A parent recorded by another version (a shared server, with no local folder to
            # say so). It must refuse before Ray starts, so it cannot overlap Ray's start-up.
            check_parent_version(plan.uri, plan.experiment, plan.spec.name, fix=(
                f"Its results stay readable (ambientsweep pareto {plan.spec.name}); to run "
                "the sweep with this version, give it another name (name: in the sweep file) "
                "or another tracking.experiment."))
        return _start_and_run(plan, address, resumed, out)


def _start_and_run(plan: Plan, address: str | None, resumed: bool, out: TextIO) -> Outcome:
    """Start Ray (the record opening meanwhile), check the cluster, run the sweep."""
    from ambientsweep.search import cluster as ray_cluster
    from ambientsweep.search.resources import check_resources

    t0 = time.monotonic()
    # A local Ray is sized to this machine, whose fit environment_problems checked: the record
    # opens (store migration, parent run, Ray Tune imports) while Ray starts. A remote cluster
    # is checked first, so a request it cannot fit writes nothing; only imports overlap.
    local = not (address or os.environ.get("RAY_ADDRESS"))
    early = Background(lambda: _open_record(plan, resumed) if local else _warm_imports())
    try:
        cluster = ray_cluster.start_ray(address, plan.paths.log_file)
    except BaseException:
        early.join_quietly()
        raise
    opened: SweepTracking | None = None
    try:
        opened = early.result()
        check_resources(plan.spec.resources, cluster.nodes, f"the cluster at {address}"
                        if address else "this machine")
        ray_cluster.check_store_reachable(plan.uri, cluster)
        tracking = opened if local else _open_record(plan, resumed)
        opened = None  # from here _run ends the record, whatever happens
        return _run(plan, resumed, out, t0, cluster, tracking)
    except BaseException as e:
        if opened is not None:  # the record opened, the cluster was refused
            _stop_record(opened, e)
        raise
    finally:
        ray_cluster.stop_ray()


class Background:
    """`fn()` in a daemon thread; :meth:`result` joins and returns it or raises its error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def target() -> None:
            try:
                self._value = fn()
            except BaseException as e:  # handed to the caller of result()
                self._error = e

        self._thread = threading.Thread(target=target, name="ambientsweep-setup", daemon=True)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def join_quietly(self) -> None:
        self._thread.join()


def _warm_export_imports(formats: tuple[str, ...]) -> None:
    """The end-of-sweep exports' imports (matplotlib, plotly, the analysis modules), loaded
    in a thread while the trials run, so the sweep's end does not wait for them (issue 20)."""
    import ambientsweep.analysis.export
    import ambientsweep.commands.exports
    from ambientsweep.analysis.formats import IMAGE_FORMATS

    if "html" in formats:
        import ambientsweep.analysis.dashboard
    if any(f in IMAGE_FORMATS for f in formats):
        import ambientsweep.analysis.plots  # noqa: F401


def _warm_imports() -> None:
    """What the driver imports after Ray is up (MLflow, Ray Tune), loaded while it starts."""
    import ambientsweep.search.callbacks
    import ambientsweep.search.tuner
    import ambientsweep.tracking.mlflow_log  # noqa: F401


def _run(plan: Plan, resumed: bool, out: TextIO, t0: float, cluster: Cluster,
         tracking: SweepTracking) -> Outcome:
    """Fit, reconcile the record with Ray's results, export when every trial ended."""
    _announce(plan, cluster, resumed, out)
    Background(lambda: _warm_export_imports(plan.formats))  # errors resurface at export time
    try:
        return _fit_and_reconcile(plan, tracking, resumed, out, t0)
    except BaseException as e:
        _stop_record(tracking, e)
        raise


def _stop_record(tracking: SweepTracking, e: BaseException) -> None:
    """Every run ends in a terminal state with the reason (best effort: the store may be
    what failed)."""
    with contextlib.suppress(Exception):
        why = f"driver stopped by {type(e).__name__}: {e}"[:4000]
        tracking.stop_unended(why)
        tracking.finish(TrialState.INTERRUPTED if isinstance(e, KeyboardInterrupt)
                        else TrialState.FAILED, why)


def _fit_and_reconcile(plan: Plan, tracking: SweepTracking, resumed: bool, out: TextIO,
                       t0: float) -> Outcome:
    from ambientsweep.tracking.mlflow_log import STORE_ERRORS

    grid, interrupted = _fit(plan, tracking, out, resumed)
    try:
        if grid is not None:  # Ray's results are the record of which trials ended how
            from ambientsweep.search.callbacks import ended_counts, ended_states, run_ids

            tracking.mark_trials(ended_states(grid))
            orphans = tracking.close_orphans(run_ids(grid))
            if orphans:
                print(f"  closed {orphans} orphan run(s) (state orphaned, status KILLED)",
                      file=out, flush=True)
            # Completion is counted from Ray's results, not from the store's rows: a repeated
            # proposal reuses its configuration's run and has no row of its own.
            ended = ended_counts(grid)
        else:
            tracking.stop_unended("interrupted: the driver was stopped (Ctrl-C or SIGTERM) "
                                  "while the trial ran; the same command resumes it")
            ended = tracking.state_counts()
        _replay(plan, out)
    except STORE_ERRORS as e:
        print(f"\nsweep {plan.spec.name}: the tracking store {plan.uri} cannot be reached ({e})."
              f"\nRay's results are kept in {plan.paths.ray_storage}. Once the store is back, "
              f"run the same command again:\n  {_command(plan)}{_uri_flag(plan)}\nIt records "
              "the ended trials and re-runs those that could not log.", file=out, flush=True)
        return Outcome(state="tracking_lost", counts={}, seconds=time.monotonic() - t0,
                       exports={})
    finished = ended_count(ended)
    if interrupted or finished < plan.num_trials:
        tracking.finish(TrialState.INTERRUPTED, f"{finished}/{plan.num_trials} trials ended; "
                        "the same command resumes the sweep")
        print(f"\nsweep {plan.spec.name} interrupted ({finished}/{plan.num_trials} trials "
              f"ended). Resume it with the same command:\n  {_command(plan)}", file=out,
              flush=True)
        return Outcome(state="interrupted", counts=ended, seconds=time.monotonic() - t0,
                       exports={})
    exports = export_sweep(plan, tracking)
    tracking.finish(TrialState.COMPLETE)
    seconds = time.monotonic() - t0
    _summary(plan, ended, exports, seconds, out)
    _list_failures(tracking, out)
    return Outcome(state="complete", counts=ended, seconds=seconds, exports=exports)


def _replay(plan: Plan, out: TextIO) -> None:
    """Write what trials buffered while the store was unreachable; say what is left."""
    from ambientsweep.tracking.mlflow_log import replay_unlogged

    written, left = replay_unlogged(plan.uri, plan.paths.trials)
    if written:
        print(f"  replayed {written} record(s) trials had buffered while the tracking store "
              "was unreachable", file=out, flush=True)
    if left:
        print(f"  NOT RECORDED: {len(left)} trial(s) still hold records the store did not take "
              f"({', '.join(str(p) for p in left[:3])}{' ...' if len(left) > 3 else ''}). "
              f"Once the store is back, replay them with the same command:\n    "
              f"{_command(plan)}{_uri_flag(plan)}", file=out, flush=True)


def _open_record(plan: Plan, resumed: bool) -> SweepTracking:
    """Sweep folder, saved spec and the parent run; trials a dead driver left are interrupted."""
    from ambientsweep.tracking.mlflow_log import SweepTracking

    spec, paths = plan.spec, plan.paths
    paths.sweep_dir.mkdir(parents=True, exist_ok=True)
    paths.cache.mkdir(parents=True, exist_ok=True)
    paths.trials.mkdir(parents=True, exist_ok=True)
    if not resumed:
        paths.state_file.write_text(json.dumps({"name": spec.name, "spec_hash": plan.spec_hash(),
                                                "sweep_file": str(plan.loaded.path),
                                                VERSION_KEY: SCHEMA_VERSION,
                                                "sweep_id": uuid.uuid4().hex,
                                                "storage_path": paths.storage}))
    (paths.sweep_dir / "spec.json").write_text(json.dumps(
        {"spec": spec.model_dump(mode="json"), "base": plan.loaded.base,
         VERSION_KEY: SCHEMA_VERSION}, indent=1, default=str))
    tracking = SweepTracking(plan.uri, plan.experiment, spec.name, paths.artifacts)
    parent, was_there = tracking.ensure_parent({"sweep_file": str(plan.loaded.path)},
                                               sweep_id=paths.sweep_id)
    tracking.client.set_tag(parent, TAG_SCHEMA_VERSION, str(SCHEMA_VERSION))
    if not was_there:
        tracking.log_params({"base": str(plan.loaded.base_path), "search": spec.search.algorithm,
                             "replicates": spec.replicates, "seed": spec.seed,
                             "objectives": ",".join(spec.metric_names)})
        tracking.log_artifact(plan.loaded.path, "spec")
        tracking.log_artifact(plan.loaded.base_path, "spec")
    tracking.stop_unended("interrupted: the driver died while the trial ran; the same "
                          "command resumes it")  # runs a dead (SIGKILLed) driver left open
    _replay(plan, sys.stdout)
    _warm_imports()
    return tracking


def _announce(plan: Plan, cluster: Cluster, resumed: bool, out: TextIO) -> None:
    spec, total = plan.spec, cluster.total
    print(f"sweep {spec.name}: {plan.num_trials} trials ({plan.num_configs} configurations x "
          f"{spec.replicates} replicates), {spec.resources.cpu:g} CPU / "
          f"{spec.resources.gpu:g} GPU each on {total.get('CPU', 0):g} CPU / "
          f"{total.get('GPU', 0):g} GPU{' (resumed)' if resumed else ''}", file=out, flush=True)
    print(f"  work dir {plan.paths.root}\n  Ray log  {plan.paths.log_file}", file=out,
          flush=True)


def _fit(plan: Plan, tracking: SweepTracking, out: TextIO,
         resumed: bool) -> tuple[ResultGrid | None, bool]:
    """Ray's results (None when interrupted before they came) and whether it was interrupted."""
    from ambientsweep.search import tuner
    from ambientsweep.search.callbacks import LiveView, TrialStates
    from ambientsweep.search.searchers import build_search
    from ambientsweep.search.trainable import TrialContext, make_trainable

    spec, paths = plan.spec, plan.paths
    cpus = spec.resources.threads or max(1, int(spec.resources.cpu))
    loaded = plan.loaded.with_overrides({"train.num_threads": cpus})
    ctx = TrialContext(loaded=loaded, record=tracking.ref, trials_dir=str(paths.trials),
                       cache_dir=str(paths.cache), system_metrics=plan.system_metrics,
                       fill_idle=spec.resources.fill_idle)
    from ambientsweep.search.study import journal_path

    space, searcher, num_samples = build_search(loaded, plan.points, plan.num_configs,
                                                journal_path(paths.sweep_dir))
    setup = tuner.TuneSetup(
        name="tune", storage_path=paths.ray_storage, param_space=space,
        search_alg=searcher, scheduler=tuner.build_scheduler(loaded, budgets_kimg(plan)),
        num_samples=num_samples, max_concurrent=spec.search.max_concurrent,
        resources={"cpu": spec.resources.cpu, "gpu": spec.resources.gpu},
        max_failures=spec.execution.max_failures)
    states = TrialStates(tracking.mark_trial)
    live = LiveView([(o.metric, o.mode) for o in spec.objectives], states, out,
                    total=plan.num_trials, max_kimg=max_kimg(plan))
    callbacks: list[Any] = [states, live]
    if spec.resources.fill_idle:  # no idle tail: the last trials take the freed CPUs
        from ambientsweep.search import fill

        board = fill.start_board(cpus, spec.resources.cpu)
        callbacks.append(fill.OpenWhenAllStarted(board, plan.num_trials))
    previous = signal.getsignal(signal.SIGTERM)

    def _term(signum: int, frame: Any) -> None:  # SIGTERM behaves like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        grid = tuner.fit(setup, make_trainable(ctx), callbacks, resume=resumed)
        _say_reconciled(searcher, paths.sweep_dir, out)
        return grid, False
    except KeyboardInterrupt:
        return None, True
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say_reconciled(searcher: Any, sweep_dir: Path, out: TextIO) -> None:
    """Tell which study trials a dead driver left RUNNING were marked failed."""
    numbers = getattr(getattr(searcher, "inner", None), "reconciled", None)
    if numbers:
        from ambientsweep.search.study import journal_path

        print(f"  study {journal_path(sweep_dir)}: {len(numbers)} trial(s) left running by an "
              f"interrupted driver and unknown to Ray's state marked failed (numbers "
              f"{', '.join(map(str, numbers))})", file=out, flush=True)


def _summary(plan: Plan, ended: dict[str, int], exports: dict[str, Path], seconds: float,
             out: TextIO) -> None:
    print(f"\nsweep {plan.spec.name} finished in {seconds / 60:.1f} min: "
          + ", ".join(f"{v} {k}" for k, v in sorted(ended.items())), file=out)
    for fmt, p in exports.items():
        print(f"  {fmt:10s} {p}", file=out)
    print(f"  MLflow UI: ambientsweep ui {plan.spec.name} --workdir {plan.paths.root}"
          f"{_uri_flag(plan)}   (experiment {plan.experiment!r})", file=out, flush=True)


def _list_failures(tracking: SweepTracking, out: TextIO) -> None:
    """The failed trials, each with its reason (exit status 3 says there are some)."""
    from ambientsweep.tracking.tags import TAG_REASON, TAG_STATE, TAG_TRIAL_ID

    failed = [r for r in tracking.child_runs()
              if r.data.tags.get(TAG_STATE) == TrialState.FAILED.value]
    if not failed:
        return
    print(f"  {len(failed)} trial(s) failed; the front is computed from the others:", file=out)
    for r in sorted(failed, key=lambda r: r.data.tags.get(TAG_TRIAL_ID, "")):
        reason = r.data.tags.get(TAG_REASON, "no reason recorded").splitlines()[0][:200]
        print(f"    {r.data.tags.get(TAG_TRIAL_ID, r.info.run_id)} ({r.info.run_name}): {reason}",
              file=out)
    out.flush()


def _command(plan: Plan) -> str:
    return f"ambientsweep run {plan.loaded.path} --workdir {plan.paths.root}"


def _uri_flag(plan: Plan) -> str:
    default = plan.uri.endswith(str(plan.paths.root / "mlflow.db"))
    return "" if default or plan.spec.tracking.uri else f" --tracking-uri {plan.uri}"


def export_sweep(plan: Plan, tracking: SweepTracking) -> dict[str, Path]:
    """The Pareto front exports `plan.formats` into the sweep folder, logged to the parent run;
    front tagged. Other formats are written on demand by `ambientsweep pareto -f`."""
    from ambientsweep.commands.exports import export_and_log

    return export_and_log(plan, tracking, plan.formats)
