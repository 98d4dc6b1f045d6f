"""`ambientsweep status --json` on a real SQLite store written by the tracking classes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.commands.status import STATUS_COLUMNS
from ambientsweep.tracking.mlflow_log import MlflowTrialReporter, SweepTracking, default_uri
from ambientsweep.workdir import sweep_paths


def _store(workdir: Path) -> None:
    """Sweep 'st': two complete trials and one failed (no metrics)."""
    uri = default_uri(workdir)
    paths = sweep_paths(workdir, "st")
    paths.sweep_dir.mkdir(parents=True)
    spec = {"name": "st", "objectives": [{"metric": "fd_digits_cnn"},
                                         {"metric": "mem_ratio_pixels"}]}
    (paths.sweep_dir / "spec.json").write_text(json.dumps({"spec": spec, "base": {}}))
    tracking = SweepTracking(uri, "st", "st", workdir / "mlartifacts")
    parent, _ = tracking.ensure_parent({})
    states = {}
    for i, lr in enumerate((0.001, 0.002, 0.004)):
        tid = f"t{i}"
        rep = MlflowTrialReporter(uri, tracking.experiment_id, parent, "st", tid, f"lr={lr} r0",
                                  {"param.train.lr": lr, "replicate": 0}, {"method": "edm"})
        if i < 2:
            rep.report({"fd_digits_cnn": 2.0 - i, "mem_ratio_pixels": 0.25 * (i + 1)}, step=640)
        states[tid] = ("complete", None) if i < 2 else ("failed", "RuntimeError: boom")
    tracking.mark_trials(states)
    tracking.finish("complete")


def test_status_json_is_stable_and_complete(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir)
    res = CliRunner().invoke(app, ["status", "st", "--workdir", str(workdir), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert list(doc) == ["sweep", "experiment", "objectives", "counts", "trials"]
    assert doc["sweep"] == "st" and doc["objectives"] == ["fd_digits_cnn", "mem_ratio_pixels"]
    assert doc["counts"] == {"complete": 2, "failed": 1}
    assert [t["trial_id"] for t in doc["trials"]] == ["t0", "t1", "t2"]
    for t in doc["trials"]:
        assert tuple(t) == STATUS_COLUMNS
    t0, t1, t2 = doc["trials"]
    assert t0["params"] == {"train.lr": 0.001} and t0["run_name"] == "lr=0.001 r0"
    assert t1["metrics"]["fd_digits_cnn"] == 1.0 and t1["metrics"]["mem_ratio_pixels"] == 0.5
    assert t2["state"] == "failed" and t2["reason"] == "RuntimeError: boom"
    assert t2["metrics"] == {} and t2["budget_complete"] is False
    text = CliRunner().invoke(app, ["status", "st", "--workdir", str(workdir)])
    assert text.exit_code == 0 and "2 complete" in text.output and "lr" in text.output
