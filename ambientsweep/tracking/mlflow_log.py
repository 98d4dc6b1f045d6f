"""The only module that imports mlflow: sweep parent runs, trial child runs, results table.

The driver creates the store, the experiment and the parent run once (SQLite with many
concurrent first-time writers races on schema creation); trials only log into child runs.
Every child carries the sweep id, trial id and config hash as tags, so the UI can filter them
and a resumed sweep never creates a second run for the same trial.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

# Bound the HTTP client before mlflow reads these: its default retries for minutes.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ambientsweep.errors import UserError
from ambientsweep.metrics import names
from ambientsweep.tracking.tags import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING_KIND,
    PARENT_TAG,
    ROLE_PARENT,
    ROLE_TRIAL,
    TAG_BUDGET,
    TAG_CHECKPOINT,
    TAG_CONFIG_HASH,
    TAG_EXTRACTOR,
    TAG_FRONT,
    TAG_GROUP,
    TAG_METHOD,
    TAG_NODE,
    TAG_REASON,
    TAG_REUSED_BY,
    TAG_ROLE,
    TAG_STATE,
    TAG_SWEEP,
    TAG_TRIAL_ID,
    SweepRef,
    TrialState,
    namespaced,
)
from ambientsweep.tracking.uri import check_reachable, default_uri
from ambientsweep.versions import TAG_SCHEMA_VERSION, check_version, read_tag

logging.getLogger("mlflow").setLevel(logging.WARNING)  # no table-creation chatter


class TrackingUnavailable(Exception):
    """The tracking store could not be read or written (server down, database locked)."""


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except (MlflowException, OSError) as e:
        raise TrackingUnavailable(str(e)) from e


class SweepTracking:
    """Experiment + parent run of one sweep (driver side)."""

    def __init__(self, uri: str, experiment: str, sweep: str, artifact_root: Path | None) -> None:
        self.uri, self.experiment, self.sweep = uri, experiment, sweep
        self.client = MlflowClient(tracking_uri=uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            location = None
            if artifact_root is not None and not uri.startswith(("http://", "https://")):
                location = (Path(artifact_root).resolve() / experiment).as_uri()
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=location,
                tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
        else:
            self.experiment_id = exp.experiment_id
            if EXPERIMENT_KIND_TAG not in exp.tags:  # recorded before the kind was set
                self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND_TAG,
                                               MODEL_TRAINING_KIND)
        self.parent_run_id = ""

    @property
    def ref(self) -> SweepRef:
        """What the trials need to log under this sweep's parent run."""
        return SweepRef(self.uri, self.experiment_id, self.parent_run_id, self.sweep)

    def _find_parent(self) -> Any:
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{TAG_ROLE}` = '{ROLE_PARENT}' and "
                          f"tags.`{TAG_SWEEP}` = '{self.sweep}'",
            max_results=1,
        )
        return runs[0] if runs else None

    def ensure_parent(self, tags: dict[str, str]) -> tuple[str, bool]:
        """Find this sweep's parent run or create it; returns (run id, resumed)."""
        found = self._find_parent()
        if found is not None:
            self.parent_run_id = found.info.run_id
            self.client.update_run(self.parent_run_id, status="RUNNING")
            self.client.set_tag(self.parent_run_id, TAG_STATE, TrialState.RUNNING.value)
            return self.parent_run_id, True
        from ambientsweep.tracking.provenance import provenance_tags

        run = self.client.create_run(
            self.experiment_id, run_name=self.sweep,
            tags={TAG_ROLE: ROLE_PARENT, TAG_SWEEP: self.sweep,
                  TAG_STATE: TrialState.RUNNING.value, **namespaced(tags),
                  **provenance_tags()},
        )
        self.parent_run_id = run.info.run_id
        return self.parent_run_id, False

    def log_params(self, params: dict[str, Any]) -> None:
        existing = self.client.get_run(self.parent_run_id).data.params
        new = [Param(k, _param_str(v)) for k, v in params.items() if k not in existing]
        if new:
            self.client.log_batch(self.parent_run_id, params=new)

    def log_artifact(self, path: Path, subdir: str | None = None) -> None:
        self.client.log_artifact(self.parent_run_id, str(path), subdir)

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        ts = int(time.time() * 1000)
        self.client.log_batch(self.parent_run_id,
                              metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()])

    def finish(self, state: TrialState) -> None:
        """End the parent run: complete, interrupted or failed."""
        state = TrialState(state)
        status = {TrialState.COMPLETE: "FINISHED", TrialState.INTERRUPTED: "KILLED",
                  TrialState.FAILED: "FAILED"}[state]
        self.client.set_tag(self.parent_run_id, TAG_STATE, state.value)
        self.client.set_terminated(self.parent_run_id, status=status)

    def child_runs(self) -> list[Any]:
        return search_children(self.client, self.experiment_id, self.parent_run_id)

    def interrupt_running(self) -> int:
        """Mark the trials still `running` (their driver died) as interrupted; how many."""
        running = [r for r in self.child_runs()
                   if r.data.tags.get(TAG_STATE) == TrialState.RUNNING.value]
        for r in running:
            self.client.set_tag(r.info.run_id, TAG_STATE, TrialState.INTERRUPTED.value)
        return len(running)

    def state_counts(self) -> dict[str, int]:
        """How many of the sweep's trials are in each state (TrackingUnavailable if unread)."""
        counts: dict[str, int] = {}
        with _store_errors():
            for r in self.child_runs():
                s = r.data.tags.get(TAG_STATE, TrialState.RUNNING.value)
                counts[s] = counts.get(s, 0) + 1
        return counts

    def mark_trial(self, trial_id: str, state: TrialState, reason: str | None = None) -> None:
        """Final state of a trial, set by the driver (it sees pruning and errors)."""
        self.mark_trials({trial_id: (state, reason)})

    def mark_trials(self, states: dict[str, tuple[TrialState, str | None]]) -> None:
        """Final states of several trials; runs already in that state are left alone.

        Raises TrackingUnavailable when the store cannot be reached.
        """
        with _store_errors():
            for r in self.child_runs():
                tid = r.data.tags.get(TAG_TRIAL_ID)
                if tid not in states:
                    continue
                state, reason = TrialState(states[tid][0]), states[tid][1]
                if r.data.tags.get(TAG_STATE) == state.value and r.info.status != "RUNNING":
                    continue
                tags = [RunTag(TAG_STATE, state.value),
                        RunTag(TAG_BUDGET, str(state == TrialState.COMPLETE).lower())]
                if reason and TAG_REASON not in r.data.tags:  # keep the trial's finer reason
                    tags.append(RunTag(TAG_REASON, reason[:4000]))
                self.client.log_batch(r.info.run_id, tags=tags)
                status = {TrialState.COMPLETE: "FINISHED",
                          TrialState.PRUNED: "KILLED"}.get(state, "FAILED")
                self.client.set_terminated(r.info.run_id, status=status)

    def tag_front(self, run_ids: Iterable[str]) -> None:
        front = set(run_ids)
        for r in self.child_runs():
            self.client.set_tag(r.info.run_id, TAG_FRONT, str(r.info.run_id in front).lower())


def search_children(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = client.search_runs([experiment_id],
                                  filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                                  max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


class MlflowTrialReporter:
    """A trial's child run (worker side). Reuses the run of the same trial id on a retry."""

    def __init__(self, uri: str, experiment_id: str, parent_run_id: str, sweep: str,
                 trial_id: str, run_name: str, params: dict[str, Any],
                 tags: dict[str, str]) -> None:
        self.client = MlflowClient(tracking_uri=uri)
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id
        existing = [r for r in search_children(self.client, experiment_id, parent_run_id)
                    if r.data.tags.get(TAG_TRIAL_ID) == trial_id]
        if existing:
            self.run_id = existing[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            self.client.set_tag(self.run_id, TAG_STATE, TrialState.RUNNING.value)
            known = existing[0].data.params
        else:
            from ambientsweep.tracking.provenance import provenance_tags

            run = self.client.create_run(experiment_id, run_name=run_name, tags={
                PARENT_TAG: parent_run_id, TAG_ROLE: ROLE_TRIAL, TAG_SWEEP: sweep,
                TAG_TRIAL_ID: trial_id, TAG_STATE: TrialState.RUNNING.value,
                TAG_BUDGET: "false", **namespaced(tags), **provenance_tags()})
            self.run_id = run.info.run_id
            known = {}
        new = [Param(k, _param_str(v)) for k, v in params.items() if k not in known]
        for i in range(0, len(new), 100):
            self.client.log_batch(self.run_id, params=new[i:i + 100])

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        ts = int(time.time() * 1000)
        batch = [Metric(k, float(v), ts, int(step)) for k, v in metrics.items()]
        for i in range(0, len(batch), 200):
            self.client.log_batch(self.run_id, metrics=batch[i:i + 200])

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), subdir)

    def set_tags(self, tags: dict[str, str]) -> None:
        """Tags of the trial; bare project names (``method``...) go under ``ambientsweep.``."""
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v))
                                                 for k, v in namespaced(tags).items()])

    def training_data(self, data: Any) -> None:
        """The trial's training set as the run's dataset input (a TrainingData)."""
        from ambientsweep.tracking.datasets import log_training_data

        log_training_data(self.client, self.run_id, data)

    def checkpoint(self, path: Path) -> None:
        """Where the trial's final checkpoint is (its absolute path, as a tag)."""
        self.set_tags({TAG_CHECKPOINT: str(Path(path).resolve())})

    def ran_on(self, node_id: str) -> None:
        """Record the cluster node the trial runs on."""
        self.set_tags({TAG_NODE: node_id})

    def diverged(self, detail: str) -> None:
        """Record why the trial stopped: its loss became NaN or infinite."""
        self.set_tags({TAG_REASON: f"loss became NaN or infinite: {detail}"})

    def fail(self, exc: BaseException, workdir: Path) -> None:
        """Record a raised exception: traceback as artifact, reason as tag."""
        tb = workdir / "traceback.txt"
        tb.write_text("".join(traceback.format_exception(exc)))
        self.artifact(tb)
        self.set_tags({TAG_REASON: f"{type(exc).__name__}: {exc}"[:4000]})


def open_trial_run(ref: SweepRef, trial_id: str, *, run_name: str, params: dict[str, Any],
                   config_hash: str, group_id: str) -> MlflowTrialReporter:
    """The child run of trial `trial_id` under the sweep's parent (created or reused)."""
    return MlflowTrialReporter(ref.uri, ref.experiment_id, ref.parent_run_id, ref.sweep,
                               trial_id, run_name=run_name, params=params,
                               tags={TAG_CONFIG_HASH: config_hash, TAG_GROUP: group_id})


def check_parent_version(uri: str, experiment: str, sweep: str, fix: str) -> None:
    """Stop (``IncompatibleVersion``) when sweep `sweep` already has a parent run recorded by a
    schema version that cannot be resumed (e.g. on a shared server, with no local sweep folder
    to say so). Reads only: a store or experiment that does not exist yet is left uncreated."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return
    runs = client.search_runs([exp.experiment_id],
                              filter_string=f"tags.`{TAG_ROLE}` = '{ROLE_PARENT}' and "
                                            f"tags.`{TAG_SWEEP}` = '{sweep}'", max_results=1)
    if runs:
        found = read_tag(runs[0].data.tags, TAG_SCHEMA_VERSION)
        check_version(None if found is None else int(found), "resume",
                      f"parent run {runs[0].info.run_id} of sweep {sweep!r} in {uri}", fix=fix)


def find_finished(ref: SweepRef, config_hash: str) -> dict[str, float] | None:
    """Final metrics of a finished full-budget trial with this config hash, if one exists."""
    client = MlflowClient(tracking_uri=ref.uri)
    for r in search_children(client, ref.experiment_id, ref.parent_run_id):
        t = r.data.tags
        if read_tag(t, TAG_CONFIG_HASH, "") == config_hash and t.get(TAG_BUDGET) == "true":
            return dict(r.data.metrics)
    return None


def config_run(ref: SweepRef, config_hash: str,
               exclude_trial: str | None = None) -> tuple[str, str, dict[str, float]] | None:
    """(run id, state, final metrics) of the sweep's run of this config hash (the first one
    created; not trial `exclude_trial`'s own), or None when there is none yet."""
    client = MlflowClient(tracking_uri=ref.uri)
    runs = [r for r in search_children(client, ref.experiment_id, ref.parent_run_id)
            if r.data.tags.get(TAG_CONFIG_HASH) == config_hash
            and r.data.tags.get(TAG_TRIAL_ID) != exclude_trial]
    if not runs:
        return None
    r = min(runs, key=lambda r: r.info.start_time or 0)
    return (r.info.run_id, r.data.tags.get(TAG_STATE, TrialState.RUNNING.value),
            dict(r.data.metrics))


def tag_reuse(ref: SweepRef, run_id: str, trial_id: str) -> None:
    """Add `trial_id` to the run's ``ambientsweep.reused_by`` tag (comma-separated)."""
    client = MlflowClient(tracking_uri=ref.uri)
    known = client.get_run(run_id).data.tags.get(TAG_REUSED_BY, "")
    ids = [t for t in known.split(",") if t]
    if trial_id not in ids:
        client.set_tag(run_id, TAG_REUSED_BY, ",".join([*ids, trial_id]))


def load_results(uri: str, experiment: str, sweep: str | None = None) -> pd.DataFrame:
    """One row per trial of a sweep (the contract in docs/contracts.md).

    The ``image.*`` columns are files on this machine: read in place from a local artifact
    store, downloaded through the artifact API from a tracking server.
    """
    from ambientsweep.tracking.artifacts import final_images

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise UserError(f"no experiment {experiment!r} in the tracking store {uri}")
    sweep = sweep or experiment
    rows = []
    token = None
    runs: list[Any] = []
    while True:
        page = client.search_runs([exp.experiment_id],
                                  filter_string=f"tags.`{TAG_ROLE}` = '{ROLE_TRIAL}' and "
                                                f"tags.`{TAG_SWEEP}` = '{sweep}'",
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    for r in runs:
        t = r.data.tags
        row: dict[str, Any] = {
            "sweep": sweep, "trial_id": t.get(TAG_TRIAL_ID, ""), "run_id": r.info.run_id,
            "run_name": r.info.run_name or "",
            "state": t.get(TAG_STATE, TrialState.RUNNING.value), "reason": t.get(TAG_REASON, ""),
            names.BUDGET_COMPLETE: t.get(TAG_BUDGET) == "true",
            # Tags renamed since (ambientsweep.versions.TAG_RENAMES) are read under either name.
            "config_hash": read_tag(t, TAG_CONFIG_HASH, ""),
            "group_id": read_tag(t, TAG_GROUP, ""),
            "method": read_tag(t, TAG_METHOD, ""), "checkpoint": t.get(TAG_CHECKPOINT, ""),
            "replicate": int(r.data.params.get("replicate", 0)),
            names.EXTRACTOR_DIGEST: read_tag(t, TAG_EXTRACTOR, ""),
        }
        for k, v in r.data.params.items():
            if k.startswith("param."):
                row[k] = _parse(v)
        row.update(r.data.metrics)
        images = final_images(client, r.info.run_id, r.info.artifact_uri)
        for key, path in images.items():
            row[f"image.{key}"] = path
        rows.append(row)
    return pd.DataFrame(rows)


def load_history(uri: str, run_ids: Iterable[str], keys: Iterable[str]) -> pd.DataFrame:
    """Every logged value of `keys` for the runs: long table ``run_id, key, step, value``."""
    client = MlflowClient(tracking_uri=uri)
    rows = [
        {"run_id": run_id, "key": key, "step": m.step, "value": m.value}
        for run_id in run_ids
        for key in keys
        for m in client.get_metric_history(run_id, key)
    ]
    return pd.DataFrame(rows, columns=["run_id", "key", "step", "value"])


def _param_str(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 6000 else s[:5997] + "..."


def _parse(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(v, v)


__all__ = ["MlflowTrialReporter", "SweepTracking", "TrackingUnavailable", "check_reachable",
           "default_uri", "find_finished", "load_history", "load_results",
           "mlflow", "open_trial_run"]
