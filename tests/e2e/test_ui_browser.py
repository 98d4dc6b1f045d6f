"""After a real tiny sweep, the URL `ambientsweep ui` prints opens, in a fresh headless
Chromium, on the trial runs (flat, one row each) with the objectives' values as columns."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, chromium, require_browser
from tests.commands.test_ui import free_port, start_ui
from tests.e2e.helpers import CLI, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e

OBJECTIVES = ("fd_digits_cnn", "mem_ratio_pixels")


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


def test_ui_opens_on_the_trials_with_their_objectives(tmp_path: Path, ray_tmp: str) -> None:
    require_browser()
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
    res = subprocess.run(CLI + ["run", str(path), "--workdir", str(workdir)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    _, trials, _ = sweep_runs(workdir, "uiview")
    assert len(trials) == 2
    proc, lines = start_ui(workdir, free_port())
    try:
        url = re.search(r"http://\S+", lines[1]).group(0)
        with chromium(tmp_path, size=(1800, 1000)) as driver:
            driver.get(url)
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
