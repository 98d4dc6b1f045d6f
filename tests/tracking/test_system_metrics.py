"""System metrics into a real SQLite store, and the message when psutil is missing."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ambientsweep.errors import UserError
from ambientsweep.tracking import system_metrics as sm


def test_system_metrics_land_in_the_run(tmp_path: Path) -> None:
    pytest.importorskip("psutil", reason="the system-metrics extra (pip install psutil)")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("sm"))
    with sm.system_metrics(uri, run.info.run_id, True, interval_s=0.5):
        time.sleep(2.0)
    keys = set(client.get_run(run.info.run_id).data.metrics)
    assert "system/cpu_utilization_percentage" in keys
    assert "system/system_memory_usage_megabytes" in keys


def test_missing_psutil_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psutil" else real(name, *a))
    with pytest.raises(UserError, match=r"pip install 'ambientsweep\[system-metrics\]'"):
        sm.check_available()
    with sm.system_metrics("sqlite:///unused.db", "run", False):  # disabled: nothing needed
        pass
