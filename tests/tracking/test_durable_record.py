"""The record survives resumes and outages (real MLflow SQLite store; a real closed port)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ambientsweep.errors import UserError
from ambientsweep.tracking.mlflow_log import (
    UNLOGGED_NAME,
    SweepTracking,
    load_results,
    open_trial_run,
    replay_unlogged,
    sweep_parent,
)
from ambientsweep.tracking.tags import TAG_REASON, TAG_STATE, TrialState
from ambientsweep.tracking.uri import default_uri


def _closed_port_uri() -> str:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def tracking(tmp_path: Path) -> SweepTracking:
    t = SweepTracking(default_uri(tmp_path), "exp", "s", tmp_path / "art")
    t.ensure_parent({}, sweep_id="id-1")
    return t


def _steps(uri: str, run_id: str, key: str) -> list[int]:
    return [m.step for m in MlflowClient(tracking_uri=uri).get_metric_history(run_id, key)]


def test_resumed_run_never_logs_a_step_twice(tracking: SweepTracking, tmp_path: Path) -> None:
    first = open_trial_run(tracking.ref, "t", run_name="t", params={}, config_hash="h",
                           group_id="g", buffer_dir=tmp_path / "t")
    for step in (320, 640, 960):
        first.report({"loss": 1.0}, step=step)
    again = open_trial_run(tracking.ref, "t", run_name="t", params={}, config_hash="h",
                           group_id="g", buffer_dir=tmp_path / "t")
    assert again.run_id == first.run_id
    for step in (640, 960, 1280):  # resumed from the 640 checkpoint: 640 and 960 again
        again.report({"loss": 2.0}, step=step)
    assert _steps(tracking.uri, first.run_id, "loss") == [320, 640, 960, 1280]


def test_outage_buffers_then_flushes(tracking: SweepTracking, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setattr("ambientsweep.tracking.mlflow_log._RETRY_AFTER_S", 0.0)
    rep = open_trial_run(tracking.ref, "t", run_name="t", params={}, config_hash="h",
                         group_id="g", buffer_dir=tmp_path / "t")
    store = rep.client
    rep.report({"loss": 1.0}, step=320)
    rep.client = MlflowClient(tracking_uri=_closed_port_uri())  # the server goes away
    rep.report({"loss": 0.9}, step=640)  # no exception: training goes on
    rep.set_tags({"method": "edm"})
    assert rep.unlogged() == 2 and (tmp_path / "t" / UNLOGGED_NAME).is_file()
    rep.client = store  # back: the next write flushes the buffer first, in order
    rep.report({"loss": 0.8}, step=960)
    assert rep.unlogged() == 0 and not (tmp_path / "t" / UNLOGGED_NAME).exists()
    assert _steps(tracking.uri, rep.run_id, "loss") == [320, 640, 960]
    tags = MlflowClient(tracking_uri=tracking.uri).get_run(rep.run_id).data.tags
    assert tags["ambientsweep.method"] == "edm"


def test_driver_replays_what_a_trial_left(tracking: SweepTracking, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    trials = tmp_path / "trials"
    rep = open_trial_run(tracking.ref, "t", run_name="t", params={}, config_hash="h",
                         group_id="g", buffer_dir=trials / "t")
    rep.client = MlflowClient(tracking_uri=_closed_port_uri())
    rep.report({"fd": 3.0}, step=640)  # the trial ended while the store was down
    assert replay_unlogged(_closed_port_uri(), trials) == (0, [trials / "t" / UNLOGGED_NAME])
    assert replay_unlogged(tracking.uri, trials) == (1, [])
    assert _steps(tracking.uri, rep.run_id, "fd") == [640]


def test_orphans_and_interruptions_end_terminal(tracking: SweepTracking) -> None:
    owned = open_trial_run(tracking.ref, "a", run_name="a", params={}, config_hash="h1",
                           group_id="g")
    orphan = open_trial_run(tracking.ref, "b", run_name="b", params={}, config_hash="h2",
                            group_id="g")
    rerun = open_trial_run(tracking.ref, "c", run_name="c", params={}, config_hash="h2",
                           group_id="g")
    assert tracking.stop_unended("interrupted: Ctrl-C") == 3  # Ctrl-C: every run terminal
    runs = {r.info.run_id: r for r in tracking.child_runs()}
    assert {r.info.status for r in runs.values()} == {"KILLED"}
    assert {r.data.tags[TAG_REASON] for r in runs.values()} == {"interrupted: Ctrl-C"}
    tracking.mark_trials({"a": (TrialState.COMPLETE, None), "c": (TrialState.COMPLETE, None)})
    assert tracking.close_orphans({owned.run_id, rerun.run_id}) == 1
    runs = {r.info.run_id: r for r in tracking.child_runs()}
    assert runs[orphan.run_id].data.tags[TAG_STATE] == TrialState.ORPHANED.value
    assert "orphan" in runs[orphan.run_id].data.tags[TAG_REASON]
    assert runs[orphan.run_id].info.status == "KILLED"
    table = load_results(tracking.uri, "exp", "s")  # never a result, never on a front
    assert sorted(table["config_hash"]) == ["h1", "h2"] and set(table["state"]) == {"complete"}
    # A later driver start leaves the orphan and the finished runs as they are.
    assert tracking.stop_unended("interrupted: the driver died") == 0
    assert load_results(tracking.uri, "exp", "s")["run_id"].tolist() == table["run_id"].tolist()


def test_parent_by_sweep_id_and_never_reopened_read_only(tracking: SweepTracking) -> None:
    parent = tracking.parent_run_id
    tracking.finish(TrialState.COMPLETE)
    other = SweepTracking(tracking.uri, "exp", "s", None)
    assert other.ensure_parent({}, sweep_id="id-2") == (other.parent_run_id, False)
    assert other.parent_run_id != parent  # same name, another sweep folder: its own parent
    reader = SweepTracking(tracking.uri, "exp", "s", None)
    assert reader.find_parent("id-1") == parent
    mine = open_trial_run(tracking.ref, "t1", run_name="t1", params={}, config_hash="h1",
                          group_id="g")
    open_trial_run(other.ref, "t2", run_name="t2", params={}, config_hash="h2", group_id="g")
    assert len(load_results(tracking.uri, "exp", "s")) == 2  # by name: both sweeps
    assert load_results(tracking.uri, "exp", "s", parent)["run_id"].tolist() == [mine.run_id]
    assert MlflowClient(tracking_uri=tracking.uri).get_run(parent).info.status == "FINISHED"


def test_a_work_dirs_sweep_is_read_from_its_own_parent(tracking: SweepTracking) -> None:
    """pareto/report/status on a shared store: the sweep folder's id picks the parent; one
    parent of the name is used as is; several without the id are an error, not a mix."""
    assert sweep_parent(tracking.uri, "exp", "s", "id-1") == tracking.parent_run_id
    assert sweep_parent(tracking.uri, "exp", "s", None) == tracking.parent_run_id  # the only
    assert sweep_parent(tracking.uri, "exp", "other", None) is None
    assert sweep_parent(tracking.uri, "nope", "s", None) is None
    other = SweepTracking(tracking.uri, "exp", "s", None)
    other.ensure_parent({}, sweep_id="id-2")  # another work dir, same sweep name
    assert sweep_parent(tracking.uri, "exp", "s", "id-2") == other.parent_run_id
    for sweep_id in (None, "id-3"):
        with pytest.raises(UserError, match=r"2 sweeps named 's'.*--workdir"):
            sweep_parent(tracking.uri, "exp", "s", sweep_id)
