"""The sweep's record in a real MLflow SQLite store: trial runs, states, counts, de-duplication."""

from __future__ import annotations

from pathlib import Path

from ambientsweep.tracking.mlflow_log import SweepTracking, find_finished, open_trial_run
from ambientsweep.tracking.tags import TAG_NODE, TAG_REASON, TrialState, ended_count
from ambientsweep.tracking.uri import default_uri


def test_states_counts_and_finished_lookup(tmp_path: Path) -> None:
    tracking = SweepTracking(default_uri(tmp_path), "exp", "s", tmp_path / "art")
    parent, was_there = tracking.ensure_parent({})
    assert not was_there and tracking.ref.parent_run_id == parent
    runs = {}
    for i, tid in enumerate(["a", "b", "c"]):
        runs[tid] = open_trial_run(tracking.ref, tid, run_name=tid, params={"param.x": i},
                                   config_hash=f"h{i}", group_id="g")
    runs["a"].ran_on("node-1")
    runs["b"].diverged("step 3")
    assert tracking.state_counts() == {"running": 3}
    assert tracking.interrupt_running() == 3  # their driver died
    tracking.mark_trials({"a": (TrialState.COMPLETE, None),
                          "b": (TrialState.FAILED, "loss became NaN or infinite")})
    tracking.mark_trial("c", TrialState.PRUNED, "stopped early by the scheduler")
    counts = tracking.state_counts()
    assert counts == {"complete": 1, "failed": 1, "pruned": 1} and ended_count(counts) == 3
    runs["a"].report({"fd": 1.5}, step=640)
    assert find_finished(tracking.ref, "h0") == {"fd": 1.5}
    assert find_finished(tracking.ref, "h2") is None  # pruned: not a full budget
    tags = {r.data.tags["ambientsweep.trial_id"]: r.data.tags for r in tracking.child_runs()}
    assert tags["a"][TAG_NODE] == "node-1"
    assert tags["b"][TAG_REASON] == "loss became NaN or infinite: step 3"  # its own, finer
    assert tags["c"][TAG_REASON] == "stopped early by the scheduler"
    # A retry of trial a reuses its run; a resumed sweep finds its parent again.
    again = open_trial_run(tracking.ref, "a", run_name="a", params={}, config_hash="h0",
                           group_id="g")
    assert again.run_id == runs["a"].run_id
    assert SweepTracking(tracking.uri, "exp", "s", None).ensure_parent({}) == (parent, True)
