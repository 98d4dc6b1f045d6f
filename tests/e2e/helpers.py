"""What the end-to-end tests share: a sweep file on the tiny base, the store's runs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from tests.conftest import TINY_BASE

CLI = [sys.executable, "-m", "ambientsweep"]


def write_sweep(tmp_path: Path, sweep: str) -> Path:
    """`sweep` (dedented) as tmp_path/sweep.yaml next to the tiny base config tiny.yaml."""
    (tmp_path / "tiny.yaml").write_text(TINY_BASE)
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(sweep))
    return path


def sweep_runs(workdir: Path, experiment: str) -> tuple[list[Any], list[Any], MlflowClient]:
    """(parent runs, trial runs, client) of an experiment in the work dir's SQLite store."""
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("ambientsweep.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("ambientsweep.role") == "trial"]
    return parents, children, client
