"""One trial under Ray: the function Ray Tune calls with a config, and what it reports.

It builds the trial's config, runs :func:`ambientsweep.trial.run_trial` and reports to Ray and
to the trial's record at once. It talks to the record only through
:mod:`ambientsweep.tracking.mlflow_log`'s functions (imported in the worker, where MLflow is
needed). A trial whose config already finished its full budget before an interruption Ray's
state did not record is answered from the record and not trained again.

Checkpoints go through Tune's API: the Trainer hands each intermediate checkpoint to
:meth:`RayReporter.checkpoint`, which reports it with the latest metrics (Tune copies it into
the trial's storage and keeps the last one, ``CheckpointConfig(num_to_keep=1)``); a trial Ray
restores, on whichever node, gets it back from ``tune.get_checkpoint()`` and continues from it.
Every result carries the trial's MLflow run id, so the driver can tell orphan runs apart.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from pydantic import ValidationError
from ray import tune

from ambientsweep.errors import DivergedError, UserError
from ambientsweep.search.fill import ThreadFollower
from ambientsweep.search.keys import (
    BUDGET_KEY,
    DIVERGED_KEY,
    INVALID_KEY,
    REASON_KEY,
    REUSE_KEY,
    REUSED_KEY,
    TIME_ATTR,
)
from ambientsweep.search.results import TrialResults
from ambientsweep.search.searchers import split_params
from ambientsweep.spec.load import LoadedSweep
from ambientsweep.tracking.reporter import Reporter
from ambientsweep.tracking.tags import (
    ENDED,
    TAG_REASON,
    TAG_RUN_ID,
    TAG_THREADS,
    SweepRef,
    TrialState,
)

UNLOGGED_KEY = "unlogged"  # records a trial could not write to the store (its buffer file)


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its searched params (pickled to the workers)."""

    loaded: LoadedSweep
    record: SweepRef  # the sweep's parent run in the tracking store
    trials_dir: str  # SweepPaths.trials: one folder per trial id
    cache_dir: str
    system_metrics: bool = False  # MLflow's system metrics monitor on each trial's run
    fill_idle: bool = False  # follow search/fill.py's board (resources.fill_idle)


class RayReporter:
    """Each report's own metrics with kimg and budget_fraction; the final report carries every
    metric's last value (ambientsweep.search.results)."""

    def __init__(self, total_kimg: float, follower: ThreadFollower | None = None) -> None:
        self.results = TrialResults(total_kimg)
        self.follower = follower  # resources.fill_idle: threads may rise at a report
        self.run_id = ""  # the trial's MLflow run, in every result (orphans are told apart)

    @property
    def kimg(self) -> float:
        return self.results.kimg

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        if self.follower is not None:
            self.follower.poll()
        tune.report({**self.results.result(metrics, step=step), TAG_RUN_ID: self.run_id})

    def checkpoint(self, folder: Path) -> None:
        """Report the checkpoint in `folder` at the current kimg (Tune persists it)."""
        result = self.results.result({}, step=round(self.kimg * 1000))
        tune.report({**result, TAG_RUN_ID: self.run_id},
                    checkpoint=tune.Checkpoint.from_directory(str(folder)))

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        return None

    def set_tags(self, tags: dict[str, str]) -> None:
        return None

    def training_data(self, data: Any) -> None:
        return None


@dataclass
class Tee:
    """One Reporter that forwards to several."""

    parts: list[Reporter] = field(default_factory=list)

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        for p in self.parts:
            p.report(metrics, step=step)

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        for p in self.parts:
            p.artifact(path, subdir)

    def set_tags(self, tags: dict[str, str]) -> None:
        for p in self.parts:
            p.set_tags(tags)

    def training_data(self, data: Any) -> None:
        for p in self.parts:
            p.training_data(data)


def make_trainable(ctx: TrialContext) -> Callable[[dict[str, Any]], None]:
    def trainable(config: dict[str, Any]) -> None:
        from ambientsweep.tracking import mlflow_log
        from ambientsweep.tracking.system_metrics import system_metrics
        from ambientsweep.training.checkpoint import CHECKPOINT_NAME
        from ambientsweep.trial import run_trial

        params, replicate = split_params(config)
        if _failed_validation(ctx, params, replicate):  # a proposal the method does not accept
            return
        cfg = ctx.loaded.trial_config(params, replicate)
        trial_id = tune.get_context().get_trial_id()
        ray_rep = RayReporter(cfg.total_kimg)
        done = mlflow_log.find_finished(ctx.record, cfg.config_hash())
        if REUSE_KEY in config:  # a repeated proposal: answered from its configuration's run
            reuse(ctx, cfg.config_hash(), trial_id, str(config[REUSE_KEY]), ray_rep)
            return
        if done is not None:  # finished before an interruption Ray's state did not record
            ray_rep.report({**done, BUDGET_KEY: 1.0}, step=int(done.get(TIME_ATTR, 0) * 1000))
            return
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in params.items())
        run_params = {f"param.{k}": v for k, v in params.items()}
        run_params.update(_flatten(cfg.model_dump(mode="json")))
        workdir = Path(ctx.trials_dir) / trial_id
        ml = mlflow_log.open_trial_run(
            ctx.record, trial_id, run_name=f"{label} r{replicate}" if label else f"r{replicate}",
            params=run_params, config_hash=cfg.config_hash(), group_id=cfg.group_id(),
            buffer_dir=workdir)
        ray_rep.run_id = ml.run_id
        ml.ran_on(ray.get_runtime_context().get_node_id())
        if ctx.fill_idle:
            ray_rep.follower = ThreadFollower(trial_id, cfg.train.num_threads or 1)
        restored = _restored_checkpoint(workdir)
        try:
            # MLflow first: a scheduler's STOP ends the trial inside Ray's report, and the
            # result that decided it must be in the record too.
            with system_metrics(ctx.record.uri, ml.run_id, ctx.system_metrics):
                run_trial(cfg, Tee([ml, ray_rep]), workdir, cache_dir=Path(ctx.cache_dir),
                          on_checkpoint=ray_rep.checkpoint, resume_from=restored)
            if (workdir / CHECKPOINT_NAME).is_file():
                ml.checkpoint(workdir / CHECKPOINT_NAME)
        except DivergedError as e:
            ml.diverged(str(e))
            ray_rep.report({DIVERGED_KEY: 1.0}, step=int(ray_rep.kimg * 1000))
        except Exception as e:
            ml.fail(e, workdir)
            raise
        finally:
            if ray_rep.follower is not None:
                ray_rep.follower.leave()
                if ray_rep.follower.highest > (cfg.train.num_threads or 1):
                    ml.set_tags({TAG_THREADS: str(ray_rep.follower.highest)})
            if restored is not None:
                shutil.rmtree(restored.parent, ignore_errors=True)
        ml.flush()
        if ml.unlogged():  # the driver replays the buffer and says so at the sweep's end
            # with every last value: Ray's last result stays the one that says how it ended
            ray_rep.report({**ray_rep.results.latest, UNLOGGED_KEY: float(ml.unlogged())},
                           step=int(ray_rep.kimg * 1000))

    return trainable


def reuse(ctx: TrialContext, config_hash: str, trial_id: str, first: str,
          ray_rep: RayReporter, poll_s: float = 1.0) -> None:
    """Report the result of the configuration's run (waiting while it runs) as this trial's.

    Complete: its final metrics with ``budget_complete``; pruned or failed: no objectives, so
    the trial ends pruned or failed too. The run is tagged ``ambientsweep.reused_by``.
    """
    from ambientsweep.tracking import mlflow_log

    while True:
        found = mlflow_log.config_run(ctx.record, config_hash, exclude_trial=trial_id)
        if found is not None and found[1] in {s.value for s in ENDED}:
            break
        time.sleep(poll_s)  # not started yet (pending) or still running
    run_id, state, metrics = found
    mlflow_log.tag_reuse(ctx.record, run_id, trial_id)
    reason = (f"repeats the configuration of trial {first} (run {run_id}, {state}); its result "
              "is reused, not trained again")
    out: dict[str, Any] = {REUSED_KEY: 1.0, REASON_KEY: reason}
    if state == TrialState.COMPLETE.value:
        out.update({**metrics, BUDGET_KEY: 1.0})
    elif state == TrialState.FAILED.value:
        out[DIVERGED_KEY] = 1.0
    ray_rep.report(out, step=int(float(metrics.get(TIME_ATTR, 0.0)) * 1000))


def _failed_validation(ctx: TrialContext, params: dict[str, Any], replicate: int) -> bool:
    """Whether the proposal fails ``trial_config``; then it is a failed trial with the reason
    (a child run tagged with it, and the reason in Ray's result), never a silent hole."""
    from ambientsweep.tracking import mlflow_log

    try:
        ctx.loaded.trial_config(params, replicate)
        return False
    except (ValidationError, UserError) as e:
        reason = f"invalid configuration {params}: {_validation_text(e)}"
    trial_id = tune.get_context().get_trial_id()
    label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in params.items())
    ml = mlflow_log.open_trial_run(ctx.record, trial_id, run_name=f"{label} r{replicate}",
                                   params={f"param.{k}": v for k, v in params.items()},
                                   config_hash="", group_id="")
    ml.set_tags({TAG_REASON: reason[:4000]})
    tune.report({INVALID_KEY: 1.0, REASON_KEY: reason, TIME_ATTR: 0.0})
    return True


def _validation_text(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                         for x in e.errors(include_url=False))
    return str(e)


def _restored_checkpoint(workdir: Path) -> Path | None:
    """The checkpoint Tune restored this trial with, copied into its folder (None: fresh)."""
    ckpt = tune.get_checkpoint()
    if ckpt is None:
        return None
    target = workdir / "checkpoint-restored"
    shutil.rmtree(target, ignore_errors=True)
    ckpt.to_directory(str(target))
    from ambientsweep.training.checkpoint import CHECKPOINT_NAME

    path = target / CHECKPOINT_NAME
    return path if path.exists() else None


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
