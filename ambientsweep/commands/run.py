"""Plan and run a sweep: validation first, then Ray Tune + MLflow, then the Pareto exports.

Order matters for "bad input loses nothing": the spec, the work dir, the tracking URI and the
resources are all checked before the tracking store or the sweep folder is written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ambientsweep.errors import UserError
from ambientsweep.spec.load import LoadedSweep, grid_points, load_sweep
from ambientsweep.workdir import SweepPaths, check_writable, sweep_paths

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

    @property
    def spec(self):
        return self.loaded.spec

    def spec_hash(self) -> str:
        import hashlib

        blob = json.dumps({"spec": self.spec.model_dump(mode="json"), "base": self.loaded.base,
                           "trials": self.num_configs}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_plan(sweep_file: str | Path, *, workdir: str | Path, tracking_uri: str | None = None,
              max_trials: int | None = None, smoke: bool = False) -> Plan:
    """Validate everything that can be checked without starting Ray; writes nothing."""
    loaded = load_sweep(sweep_file)
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
    paths = sweep_paths(workdir, spec.name)
    check_writable(paths.root)
    from ambientsweep.tracking.mlflow_log import check_reachable, default_uri

    uri = tracking_uri or spec.tracking.uri or default_uri(paths.root)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.is_absolute():
            raise UserError(f"tracking URI {uri}: use an absolute path (sqlite:////abs/mlflow.db)"
                            "; a relative one gives every Ray trial its own database")
    elif not uri.startswith(("http://", "https://")):
        raise UserError(f"tracking URI {uri}: use sqlite:////abs/path.db or http(s)://host:port")
    check_reachable(uri)
    points = None
    if spec.search.algorithm == "grid":
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
                num_trials=num_configs * spec.replicates, smoke=smoke)


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
    if not (address or plan.spec.execution.address):
        from ambientsweep.search.tune_runner import check_resources, local_resources

        here = local_resources()
        try:
            check_resources(plan.spec.resources, [here], "this machine")
        except UserError as e:
            problems.append(str(e))
        if cfg.train.device == "cuda" and here["GPU"] == 0:
            problems.append("train.device is 'cuda' but this machine has no GPU")
    return problems


def _check_state(plan: Plan, resume: bool) -> bool:
    """Whether this is a resume; errors when the folder holds another spec or resume is off."""
    state = plan.paths.state_file
    if not state.is_file():
        return False
    saved = json.loads(state.read_text())
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
    """Total kimg a full-budget trial trains (the early-stopping time axis)."""
    return plan.loaded.trial_config(plan.points[0] if plan.points else {}).total_kimg


@dataclass
class Outcome:
    state: str  # complete | interrupted
    counts: dict[str, int]
    seconds: float
    exports: dict[str, Path]


def run_sweep(plan: Plan, *, address: str | None = None, resume: bool = True,
              out: TextIO | None = None) -> Outcome:
    """Run (or resume) the planned sweep; returns when every trial ended or on interruption."""
    out = out or sys.stdout
    spec = plan.spec
    address = address or spec.execution.address
    from ambientsweep.search import tune_runner as tr

    problems = environment_problems(plan, address)
    if problems:
        raise UserError("\n".join(problems))
    resumed = _check_state(plan, resume)
    t0 = time.monotonic()
    cluster = tr.start_ray(address, plan.paths.log_file)
    try:
        tr.check_resources(spec.resources, cluster.nodes, f"the cluster at {address}"
                           if address else "this machine")
        return _run(plan, tr, resumed, out, t0, cluster)
    finally:
        tr.stop_ray()


def _run(plan: Plan, tr: Any, resumed: bool, out: TextIO, t0: float, cluster: Any) -> Outcome:
    from ambientsweep.tracking.mlflow_log import SweepTracking

    spec = plan.spec
    paths = plan.paths
    paths.sweep_dir.mkdir(parents=True, exist_ok=True)
    paths.cache.mkdir(parents=True, exist_ok=True)
    if not resumed:
        paths.state_file.write_text(json.dumps({"name": spec.name, "spec_hash": plan.spec_hash(),
                                                "sweep_file": str(plan.loaded.path)}))
    (paths.sweep_dir / "spec.json").write_text(json.dumps(
        {"spec": spec.model_dump(mode="json"), "base": plan.loaded.base}, indent=1, default=str))
    tracking = SweepTracking(plan.uri, plan.experiment, spec.name, paths.artifacts)
    parent, was_there = tracking.ensure_parent({"sweep_file": str(plan.loaded.path)})
    if not was_there:
        tracking.log_params({"base": str(plan.loaded.base_path), "search": spec.search.algorithm,
                             "replicates": spec.replicates, "seed": spec.seed,
                             "objectives": ",".join(spec.metric_names)})
        tracking.log_artifact(plan.loaded.path, "spec")
        tracking.log_artifact(plan.loaded.base_path, "spec")
    for r in tracking.child_runs():  # trials that were running when a previous driver died
        if r.data.tags.get("ambientsweep.state") == "running":
            tracking.client.set_tag(r.info.run_id, "ambientsweep.state", "interrupted")

    cpus = spec.resources.threads or max(1, int(spec.resources.cpu))
    loaded = plan.loaded.with_overrides({"train.num_threads": cpus})
    ctx = tr.TrialContext(loaded=loaded, sweep=spec.name, uri=plan.uri,
                          experiment_id=tracking.experiment_id, parent_run_id=parent,
                          trials_dir=str(paths.trials), cache_dir=str(paths.cache))
    space, searcher, num_samples = tr.build_search(loaded, plan.points, plan.num_configs)
    resources = {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu}
    setup = tr.TuneSetup(name="tune", storage_path=str(paths.ray_storage), param_space=space,
                         search_alg=searcher, scheduler=tr.build_scheduler(loaded, max_kimg(plan)),
                         num_samples=num_samples, max_concurrent=spec.search.max_concurrent,
                         resources=resources, max_failures=spec.execution.max_failures)
    states = tr.TrialStates(tracking.mark_trial)
    live = tr.LiveView([(o.metric, o.mode) for o in spec.objectives], states, out,
                       total=plan.num_trials, max_kimg=max_kimg(plan))
    total = cluster.total
    print(f"sweep {spec.name}: {plan.num_trials} trials ({plan.num_configs} configurations x "
          f"{spec.replicates} replicates), {spec.resources.cpu:g} CPU / "
          f"{spec.resources.gpu:g} GPU each on {total.get('CPU', 0):g} CPU / "
          f"{total.get('GPU', 0):g} GPU{' (resumed)' if resumed else ''}", file=out, flush=True)
    print(f"  work dir {paths.root}\n  Ray log  {paths.log_file}", file=out, flush=True)

    interrupted = False
    previous = signal.getsignal(signal.SIGTERM)

    def _term(signum: int, frame: Any) -> None:  # SIGTERM behaves like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    grid = None
    try:
        grid = tr.fit(setup, tr.make_trainable(ctx), [states, live], resume=resumed)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    from ambientsweep.tracking.mlflow_log import MlflowException

    try:
        if grid is not None:  # Ray's results are the record of which trials ended how
            tracking.mark_trials(tr.ended_states(grid))
        ended = _count_states(tracking)
    except (MlflowException, OSError) as e:
        print(f"\nsweep {spec.name}: the tracking store {plan.uri} cannot be reached ({e}).\n"
              f"Ray's results are kept in {paths.ray_storage}. Once the store is back, run the "
              f"same command again:\n  ambientsweep run {plan.loaded.path} --workdir "
              f"{paths.root}{_uri_flag(plan)}\nIt records the ended trials and re-runs those "
              "that could not log.", file=out, flush=True)
        return Outcome(state="tracking_lost", counts={}, seconds=time.monotonic() - t0,
                       exports={})
    finished = ended.get("complete", 0) + ended.get("failed", 0) + ended.get("pruned", 0)
    interrupted = interrupted or finished < plan.num_trials
    exports: dict[str, Path] = {}
    if interrupted:
        tracking.finish("interrupted")
        print(f"\nsweep {spec.name} interrupted ({finished}/{plan.num_trials} trials ended). "
              f"Resume it with the same command:\n  ambientsweep run {plan.loaded.path} "
              f"--workdir {paths.root}", file=out, flush=True)
    else:
        exports = export_sweep(plan, tracking)
        tracking.finish("complete")
    seconds = time.monotonic() - t0
    if not interrupted:
        print(f"\nsweep {spec.name} finished in {seconds / 60:.1f} min: "
              + ", ".join(f"{v} {k}" for k, v in sorted(ended.items())), file=out)
        for fmt, p in exports.items():
            print(f"  {fmt:10s} {p}", file=out)
        print(f"  MLflow UI: ambientsweep ui --workdir {paths.root}   (experiment "
              f"{plan.experiment!r})", file=out, flush=True)
    return Outcome(state="interrupted" if interrupted else "complete", counts=ended,
                   seconds=seconds, exports=exports)


def _uri_flag(plan: Plan) -> str:
    default = plan.uri.endswith(str(plan.paths.root / "mlflow.db"))
    return "" if default or plan.spec.tracking.uri else f" --tracking-uri {plan.uri}"


def _count_states(tracking: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in tracking.child_runs():
        s = r.data.tags.get("ambientsweep.state", "running")
        counts[s] = counts.get(s, 0) + 1
    return counts


def export_sweep(plan: Plan, tracking: Any) -> dict[str, Path]:
    """Pareto front exports into the sweep folder, logged to the parent run; front tagged."""
    from ambientsweep.commands.exports import export_and_log

    return export_and_log(plan, tracking)
