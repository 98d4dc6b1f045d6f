"""`commands/exports.py`: a work dir's sweep is read from, and its front re-logged to, its own
parent run when another work dir ran a sweep of the same name into the same store."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient

from ambientsweep.commands.exports import export_sweeps, sweep_results
from ambientsweep.tracking.mlflow_log import MlflowTrialReporter, SweepTracking
from ambientsweep.workdir import sweep_paths


def _sweep(workdir: Path, uri: str, sweep_id: str, fds: tuple[float, ...]) -> str:
    """Sweep "toy" in `workdir` (its folder carrying `sweep_id`) logged to `uri`; its parent."""
    paths = sweep_paths(workdir, "toy")
    paths.sweep_dir.mkdir(parents=True)
    spec = {"name": "toy", "objectives": [{"metric": "fd_digits_cnn", "direction": "min"},
                                          {"metric": "mem_ratio_pixels", "direction": "min"}]}
    (paths.sweep_dir / "spec.json").write_text(json.dumps({"spec": spec, "base": {}}))
    paths.state_file.write_text(json.dumps({"sweep_id": sweep_id}))
    tracking = SweepTracking(uri, "toy", "toy", workdir / "mlartifacts")
    parent, _ = tracking.ensure_parent({}, sweep_id=sweep_id)
    states = {}
    for i, fd in enumerate(fds):
        tid = f"{sweep_id}-t{i}"
        reporter = MlflowTrialReporter(uri, tracking.experiment_id, parent, "toy", tid, tid,
                                       {"param.train.lr": 0.001 * (i + 1), "replicate": 0},
                                       {"group_id": f"g{i}", "method": "edm"})
        reporter.report({"fd_digits_cnn": fd, "mem_ratio_pixels": 0.1 * (i + 1)}, step=1)
        states[tid] = ("complete", None)
    tracking.mark_trials(states)
    tracking.finish("complete")
    return parent


def test_export_reads_and_relogs_its_own_parent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    first = _sweep(tmp_path / "a", uri, "id-a", (10.0, 20.0))
    second = _sweep(tmp_path / "b", uri, "id-b", (30.0, 40.0, 50.0))

    df, parent = sweep_results(uri, "toy", "toy", tmp_path / "b")
    assert parent == second
    assert sorted(df["fd_digits_cnn"]) == [30.0, 40.0, 50.0]

    export_sweeps(["toy"], formats=["csv"], out=tmp_path / "out", workdir=tmp_path / "b",
                  tracking_uri=uri, color_by=None)
    client = MlflowClient(tracking_uri=uri)
    assert [a.path for a in client.list_artifacts(second, "pareto")]
    assert not client.list_artifacts(first, "pareto")
    assert "front_size" in client.get_run(second).data.metrics
    assert "front_size" not in client.get_run(first).data.metrics
