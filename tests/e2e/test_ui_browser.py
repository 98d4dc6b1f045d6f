"""`ambientsweep ui` after one real tiny sweep (a module's fixture, shared): its MLflow
server answers over REST on loopback only, and the URL it prints opens, in a fresh headless
Chromium, on the trial runs (flat, one row each) with the objectives' values as columns."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTIFACTS, chromium, require_browser
from tests.commands.test_ui import descendants, free_port, start_ui
from tests.conftest import private_ray_tmp
from tests.e2e.helpers import run_sweep, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e

OBJECTIVES = ("fd_digits_cnn", "mem_ratio_pixels")


@dataclass(frozen=True)
class Served:
    """The shared sweep's trial runs and the UI serving its work dir."""

    trials: list[Any]
    port: int
    url: str  # the URL `ambientsweep ui` printed

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A finished two-trial grid sweep, and `ambientsweep ui` on it (stopped at the end)."""
    tmp_path = tmp_path_factory.mktemp("uiview")
    path = write_sweep(tmp_path, """\
        name: uiview
        base: tiny.yaml
        space:
          train.lr: {grid: [1.0e-3, 4.0e-3]}
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
        resources: {cpu: 1}
    """)
    workdir = tmp_path / "runs"
    with pytest.MonkeyPatch.context() as mp, private_ray_tmp(mp):
        run_sweep(path, workdir)
    _, trials, _ = sweep_runs(workdir, "uiview")
    assert len(trials) == 2
    port = free_port()
    proc, lines = start_ui(workdir, port)
    try:
        yield Served(trials, port, re.search(r"http://\S+", lines[1]).group(0))
    finally:
        server = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)  # it stops its mlflow server (tests/commands/test_ui.py)
        try:
            proc.wait(timeout=30)
        finally:
            for pid in [proc.pid, *server]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_ui_serves_runs_over_rest(served: Served) -> None:
    base = served.base
    with urllib.request.urlopen(base + "/health", timeout=10) as r:
        assert r.status == 200
    with urllib.request.urlopen(base + "/api/2.0/mlflow/experiments/get-by-name"
                                "?experiment_name=uiview", timeout=10) as r:
        exp_id = json.load(r)["experiment"]["experiment_id"]
    req = urllib.request.Request(
        base + "/api/2.0/mlflow/runs/search", method="POST",
        data=json.dumps({"experiment_ids": [exp_id]}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        runs = json.load(r)["runs"]
    roles = sorted(t["value"] for run in runs for t in run["data"]["tags"]
                   if t["key"] == "ambientsweep.role")
    assert roles == ["parent", "trial", "trial"]
    # Bound to loopback only.
    if shutil.which("ss"):
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        port = served.port
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening


def shown(value: float) -> str:
    """A metric rounded as MLflow's ``Utils.formatMetric`` does (MLflow 3.x); the runs table
    may show this or the full value instead (the test accepts either)."""
    a = abs(value)
    if value == 0:
        return "0"
    if a < 1e-3:
        mant, exp = f"{value:.3e}".split("e")
        return f"{mant}e{int(exp):+d}"
    scale = 1000 if a < 10 else 100 if a < 100 else 10
    r = math.floor(value * scale + 0.5) / scale  # JS Math.round: halves up
    return str(int(r)) if r == int(r) else repr(r)


def test_ui_opens_on_the_trials_with_their_objectives(tmp_path: Path, served: Served) -> None:
    require_browser()
    trials = served.trials
    with chromium(tmp_path, size=(1800, 1000)) as driver:
        driver.get(served.url)
        names = [t.info.run_name for t in trials]
        deadline = time.monotonic() + 90
        text = ""
        while not all(n in text for n in names):
            assert time.monotonic() < deadline, f"trial runs not listed: {text[:2000]}"
            time.sleep(1)
            text = driver.find_element("tag name", "body").text
        time.sleep(2)  # let the metric cells render
        text = driver.find_element("tag name", "body").text
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "mlflow_ui.png"))
        for m in OBJECTIVES:
            assert m in text, f"no {m} column"
            for t in trials:
                # the table cell holds either MLflow's rounded form or the full value
                v = t.data.metrics[m]
                assert shown(v) in text or repr(v)[:7] in text, (m, v, text)
        assert "Token usage" not in text  # the model-training view, not the GenAI one
