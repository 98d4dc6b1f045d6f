"""The only module that imports mlflow: sweep parent runs, trial child runs, results table.

The driver creates the store, the experiment and the parent run once (SQLite with many
concurrent first-time writers races on schema creation); trials only log into child runs.
Every child carries the sweep id, trial id and config hash as tags, so the UI can filter them
and a resumed sweep never creates a second run for the same trial.
"""

from __future__ import annotations

import contextlib
import json
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
    ENDED,
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
    TAG_SWEEP_ID,
    TAG_TRIAL_ID,
    SweepRef,
    TrialState,
    namespaced,
)
from ambientsweep.tracking.uri import check_reachable, default_uri, fresh_store
from ambientsweep.versions import TAG_SCHEMA_VERSION, check_version, read_tag

logging.getLogger("mlflow").setLevel(logging.WARNING)  # no table-creation chatter


class TrackingUnavailable(Exception):
    """The tracking store could not be read or written (server down, database locked)."""


# What a driver catches around its writes to the store (one place knows mlflow's errors).
STORE_ERRORS: tuple[type[BaseException], ...] = (TrackingUnavailable, MlflowException, OSError)


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

    def find_parent(self, sweep_id: str | None = None) -> str | None:
        """This sweep's parent run id, read only (by sweep id tag when given; else by the
        sweep tag, newest first); None when there is none."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=parent_filter(sweep_id=sweep_id) if sweep_id
            else parent_filter(sweep=self.sweep),
            max_results=1, order_by=["attributes.start_time DESC"])
        if not runs:
            return None
        self.parent_run_id = runs[0].info.run_id
        return self.parent_run_id

    def ensure_parent(self, tags: dict[str, str],
                      sweep_id: str | None = None) -> tuple[str, bool]:
        """Find this sweep's parent run (by its sweep id tag) and reopen it, or create it;
        returns (run id, resumed). Only the driver of a run calls it (under the sweep lock)."""
        if self.find_parent(sweep_id):
            self.client.update_run(self.parent_run_id, status="RUNNING")
            self.client.set_tag(self.parent_run_id, TAG_STATE, TrialState.RUNNING.value)
            return self.parent_run_id, True
        from ambientsweep.tracking.provenance import provenance_tags

        run = self.client.create_run(
            self.experiment_id, run_name=self.sweep,
            tags={TAG_ROLE: ROLE_PARENT, TAG_SWEEP: self.sweep,
                  TAG_STATE: TrialState.RUNNING.value, **namespaced(tags),
                  **({TAG_SWEEP_ID: sweep_id} if sweep_id else {}),
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

    def finish(self, state: TrialState, reason: str | None = None) -> None:
        """End the parent run: complete, interrupted or failed (with the reason why)."""
        state = TrialState(state)
        status = {TrialState.COMPLETE: "FINISHED", TrialState.INTERRUPTED: "KILLED",
                  TrialState.FAILED: "FAILED"}[state]
        tags = [RunTag(TAG_STATE, state.value)]
        if reason:
            tags.append(RunTag(TAG_REASON, reason[:4000]))
        self.client.log_batch(self.parent_run_id, tags=tags)
        self.client.set_terminated(self.parent_run_id, status=status)

    def stop_unended(self, reason: str) -> int:
        """Every child run not in a final state: interrupted, status KILLED, with `reason`
        (a resumed trial reopens its run). Returns how many."""
        # Final states, and orphans: those stay closed (a second driver start must not turn
        # an orphan back into an interrupted result).
        ended = {s.value for s in (*ENDED, TrialState.ORPHANED)}
        n = 0
        with _store_errors():
            runs = self.child_runs()
        status_of = {TrialState.COMPLETE.value: "FINISHED", TrialState.PRUNED.value: "FINISHED",
                     TrialState.FAILED.value: "FAILED", TrialState.ORPHANED.value: "KILLED"}
        for r in runs:
            state = r.data.tags.get(TAG_STATE)
            if state in ended:  # its result stands; only a status left open is closed
                if r.info.status == "RUNNING":
                    self.client.set_terminated(r.info.run_id, status=status_of[state])
                continue
            self.client.log_batch(r.info.run_id, tags=[
                RunTag(TAG_STATE, TrialState.INTERRUPTED.value), RunTag(TAG_REASON, reason)])
            self.client.set_terminated(r.info.run_id, status="KILLED")
            n += 1
        return n

    def close_orphans(self, known_run_ids: set[str]) -> int:
        """Child runs that no trial in Ray's results owns (their trial was started after
        Ray's last state save and rerun under another id): KILLED, tagged why; how many."""
        n = 0
        with _store_errors():
            runs = self.child_runs()
        for r in runs:
            state = r.data.tags.get(TAG_STATE)
            if r.info.run_id in known_run_ids or state not in (
                    TrialState.RUNNING.value, TrialState.INTERRUPTED.value, None):
                continue  # owned, or ended (a finished run Ray answers from keeps its own)
            self.client.log_batch(r.info.run_id, tags=[
                RunTag(TAG_STATE, TrialState.ORPHANED.value), RunTag(TAG_BUDGET, "false"),
                RunTag(TAG_REASON, "orphan: its trial is not in Ray's experiment state (the "
                                   "driver died before Ray saved it); it ran again as "
                                   "another trial")])
            self.client.set_terminated(r.info.run_id, status="KILLED")
            n += 1
        return n

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


UNLOGGED_NAME = "unlogged.jsonl"  # in a trial folder: what the store did not take
# After a failed write, buffer without trying for this long (tests shorten it).
_RETRY_AFTER_S = float(os.environ.get("AMBIENTSWEEP_LOG_RETRY_S", "30"))


class MlflowTrialReporter:
    """A trial's child run (worker side). Reuses the run of the same trial id on a retry.

    A resumed run never gets a (metric, step) twice: the pairs its history already holds are
    dropped (a trial resumed from a checkpoint reports the steps after it again). When the
    store cannot be written, metrics, tags and artifacts go to
    ``<trial folder>/unlogged.jsonl`` instead (training goes on) and are flushed once the store
    answers again; what is left at the end is replayed by the driver (:func:`replay_unlogged`).
    """

    def __init__(self, uri: str, experiment_id: str, parent_run_id: str, sweep: str,
                 trial_id: str, run_name: str, params: dict[str, Any],
                 tags: dict[str, str], buffer_dir: Path | None = None) -> None:
        self.client = MlflowClient(tracking_uri=uri)
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id
        self.buffer = Path(buffer_dir) / UNLOGGED_NAME if buffer_dir is not None else None
        self._down_until = 0.0
        self.logged: set[tuple[str, int]] = set()  # (key, step) a resumed run already holds
        existing = [r for r in search_children(self.client, experiment_id, parent_run_id)
                    if r.data.tags.get(TAG_TRIAL_ID) == trial_id]
        if existing:
            self.run_id = existing[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            self.client.set_tag(self.run_id, TAG_STATE, TrialState.RUNNING.value)
            if TAG_REASON in existing[0].data.tags:  # why it stopped before: no longer true
                self.client.delete_tag(self.run_id, TAG_REASON)
            known = existing[0].data.params
            self.flush()  # what a previous attempt buffered comes first
            for key in self.client.get_run(self.run_id).data.metrics:
                self.logged |= {(key, int(m.step))
                                for m in self.client.get_metric_history(self.run_id, key)}
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
        fresh = {k: float(v) for k, v in metrics.items() if (k, int(step)) not in self.logged}
        if fresh:
            self._write({"kind": "metrics", "metrics": fresh, "step": int(step),
                         "ts": int(time.time() * 1000)})

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        self._write({"kind": "artifact", "path": str(path), "subdir": subdir})

    def set_tags(self, tags: dict[str, str]) -> None:
        """Tags of the trial; bare project names (``method``...) go under ``ambientsweep.``."""
        self._write({"kind": "tags",
                     "tags": {k: str(v) for k, v in namespaced(tags).items()}})

    def training_data(self, data: Any) -> None:
        """The trial's training set as the run's dataset input (a TrainingData)."""
        from ambientsweep.tracking.datasets import log_training_data

        log_training_data(self.client, self.run_id, data)

    def checkpoint(self, path: Path) -> None:
        """Where the trial's final checkpoint is (its absolute path, as a tag)."""
        self.set_tags({TAG_CHECKPOINT: str(Path(path).resolve())})

    # Writes go through one place: the store when it answers, else the trial's buffer file.

    def _write(self, entry: dict[str, Any]) -> None:
        if self.buffer is None:
            _apply(self.client, self.run_id, entry)
            return
        if time.monotonic() >= self._down_until and self.flush():
            try:
                _apply(self.client, self.run_id, entry)
                return
            except _WRITE_ERRORS:
                self._down_until = time.monotonic() + _RETRY_AFTER_S
        self.buffer.parent.mkdir(parents=True, exist_ok=True)
        with self.buffer.open("a") as f:
            f.write(json.dumps({"run_id": self.run_id, **entry}) + "\n")

    def flush(self) -> bool:
        """Write what the buffer holds; True when it is empty afterwards."""
        if self.buffer is None or not self.buffer.exists():
            return True
        try:
            replay_file(self.client, self.buffer)
        except _WRITE_ERRORS:
            self._down_until = time.monotonic() + _RETRY_AFTER_S
            return False
        return True

    def unlogged(self) -> int:
        """How many records wait in the buffer (0 when everything reached the store)."""
        if self.buffer is None or not self.buffer.exists():
            return 0
        return sum(1 for line in self.buffer.read_text().splitlines() if line.strip())

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
                   config_hash: str, group_id: str,
                   buffer_dir: Path | None = None) -> MlflowTrialReporter:
    """The child run of trial `trial_id` under the sweep's parent (created or reused)."""
    return MlflowTrialReporter(ref.uri, ref.experiment_id, ref.parent_run_id, ref.sweep,
                               trial_id, run_name=run_name, params=params,
                               tags={TAG_CONFIG_HASH: config_hash, TAG_GROUP: group_id},
                               buffer_dir=buffer_dir)


_WRITE_ERRORS: tuple[type[BaseException], ...] = (MlflowException, OSError)
with contextlib.suppress(ImportError):
    import requests

    _WRITE_ERRORS = (*_WRITE_ERRORS, requests.RequestException)


def _apply(client: MlflowClient, run_id: str, entry: dict[str, Any]) -> None:
    kind = entry["kind"]
    if kind == "metrics":
        batch = [Metric(k, float(v), int(entry["ts"]), int(entry["step"]))
                 for k, v in entry["metrics"].items()]
        for i in range(0, len(batch), 200):
            client.log_batch(run_id, metrics=batch[i:i + 200])
    elif kind == "tags":
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in entry["tags"].items()])
    elif kind == "artifact" and Path(entry["path"]).exists():
        client.log_artifact(run_id, entry["path"], entry.get("subdir"))


def replay_file(client: MlflowClient, buffer: Path) -> int:
    """Write a trial's buffered records to the store in order; the file is removed when all
    went (a partial replay rewrites it with the rest). Returns how many were written."""
    lines = [line for line in buffer.read_text().splitlines() if line.strip()]
    done = 0
    try:
        for line in lines:
            entry = json.loads(line)
            _apply(client, entry["run_id"], entry)
            done += 1
    finally:
        rest = lines[done:]
        if rest:
            tmp = buffer.with_name(buffer.name + ".tmp")
            tmp.write_text("\n".join(rest) + "\n")
            os.replace(tmp, buffer)
        else:
            buffer.unlink(missing_ok=True)
    return done


def replay_unlogged(uri: str, trials_dir: Path) -> tuple[int, list[Path]]:
    """Driver side: replay every trial folder's buffer; (records written, files left)."""
    client = MlflowClient(tracking_uri=uri)
    written, left = 0, []
    for buf in sorted(Path(trials_dir).glob(f"*/{UNLOGGED_NAME}")):
        try:
            written += replay_file(client, buf)
        except _WRITE_ERRORS:
            left.append(buf)
    return written, left


def check_parent_version(uri: str, experiment: str, sweep: str, fix: str) -> None:
    """Stop (``IncompatibleVersion``) when sweep `sweep` already has a parent run recorded by a
    schema version that cannot be resumed (e.g. on a shared server, with no local sweep folder
    to say so). Reads only: a store or experiment that does not exist yet is left uncreated."""
    if fresh_store(uri):
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


def parent_filter(*, sweep: str | None = None, sweep_id: str | None = None) -> str:
    """The MLflow filter for a sweep's parent runs: by the work dir's sweep id, else by name."""
    tag = (f"tags.`{TAG_SWEEP_ID}` = '{sweep_id}'" if sweep_id
           else f"tags.`{TAG_SWEEP}` = '{sweep}'")
    return f"tags.`{TAG_ROLE}` = '{ROLE_PARENT}' and {tag}"


def sweep_parent(uri: str, experiment: str, sweep: str, sweep_id: str | None) -> str | None:
    """The parent run whose trials are a work dir's sweep (read only): the one tagged with the
    folder's sweep id; without such a run, the only parent of that sweep name. None when the
    store has no parent of that name (older records: load by name).

    Raises:
        UserError: several parents share the name and none carries this folder's id (a shared
            server where other work dirs ran a sweep of the same name).
    """
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    if sweep_id:
        runs = client.search_runs([exp.experiment_id], max_results=1,
                                  filter_string=parent_filter(sweep_id=sweep_id))
        if runs:
            return str(runs[0].info.run_id)
    runs = client.search_runs([exp.experiment_id], max_results=20,
                              filter_string=parent_filter(sweep=sweep))
    if len(runs) > 1:
        ids = ", ".join(r.info.run_id for r in runs)
        raise UserError(
            f"{len(runs)} sweeps named {sweep!r} in the tracking store {uri} (parent runs {ids})"
            + (f" and none has this work dir's sweep id {sweep_id}" if sweep_id else "")
            + "; point --workdir at the work dir that ran it (its sweep folder holds the id)")
    return str(runs[0].info.run_id) if runs else None


def load_results(uri: str, experiment: str, sweep: str | None = None,
                 parent_run_id: str | None = None) -> pd.DataFrame:
    """One row per trial of a sweep (the contract in docs/contracts.md); with
    `parent_run_id`, of that parent run only (another work dir's sweep of the same name on a
    shared server stays out).

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
                                                f"tags.`{TAG_SWEEP}` = '{sweep}'" + (
                                      f" and tags.`{PARENT_TAG}` = '{parent_run_id}'"
                                      if parent_run_id else ""),
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    for r in runs:
        t = r.data.tags
        if t.get(TAG_STATE) == TrialState.ORPHANED.value:
            continue  # its trial ran again under another id: that run is the result
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


__all__ = ["STORE_ERRORS", "UNLOGGED_NAME", "MlflowTrialReporter", "SweepTracking",
           "TrackingUnavailable",
           "check_reachable", "default_uri", "find_finished", "load_history", "load_results",
           "mlflow", "open_trial_run", "replay_unlogged"]
