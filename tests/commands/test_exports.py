"""`commands/exports.py`: a work dir's sweep is read from, and its front re-logged to, its own
parent run when another work dir ran a sweep of the same name into the same store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlflow.tracking import MlflowClient

from ambientsweep.commands.exports import export_sweeps, sweep_results
from ambientsweep.tracking.mlflow_log import MlflowTrialReporter
from tests.mlflow_store import toy_sweep


def _fd(base: float, cf: float, rep: int) -> float:
    return base + 100 * cf + rep


def _log(base: float) -> Callable[[MlflowTrialReporter, float, int], None]:
    def log(reporter: MlflowTrialReporter, cf: float, rep: int) -> None:
        reporter.report({"fd_digits_cnn": _fd(base, cf, rep), "mem_ratio_pixels": 0.1 * (rep + 1)},
                        step=1)
    return log


def test_export_reads_and_relogs_its_own_parent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    first = toy_sweep(tmp_path / "a", _log(0.0), uri=uri, sweep_id="id-a")
    second = toy_sweep(tmp_path / "b", _log(1000.0), uri=uri, sweep_id="id-b")

    # The older sweep too: a lookup by name (newest first) would hand it the other's parent.
    assert sweep_results(uri, "toy", "toy", tmp_path / "a")[1] == first
    df, parent = sweep_results(uri, "toy", "toy", tmp_path / "b")
    assert parent == second
    assert sorted(df["fd_digits_cnn"]) == sorted(
        _fd(1000.0, cf, rep) for cf in (0.1, 0.2) for rep in (0, 1))

    export_sweeps(["toy"], formats=["csv"], out=tmp_path / "out", workdir=tmp_path / "b",
                  tracking_uri=uri, color_by=None)
    client = MlflowClient(tracking_uri=uri)
    assert [a.path for a in client.list_artifacts(second, "pareto")]
    assert not client.list_artifacts(first, "pareto")
    assert "front_size" in client.get_run(second).data.metrics
    assert "front_size" not in client.get_run(first).data.metrics
