"""Reliability end to end: interruptions, diverging and raising trials (real Ray + MLflow)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import kill_matching
from tests.e2e.helpers import CLI, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_signal_stops_cleanly_and_resumes(sig: int, tmp_path: Path, ray_tmp: str) -> None:
    path = write_sweep(tmp_path, """\
        name: sig
        base: tiny.yaml
        overrides: {train.kimg: 192}
        space:
          train.lr: {grid: [5.0e-4, 1.0e-3, 2.0e-3]}
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
        search: {algorithm: grid, max_concurrent: 1}
    """)
    workdir = tmp_path / "runs"
    cmd = CLI + ["run", str(path), "--workdir", str(workdir)]
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    trials = workdir / "sweeps" / "sig" / "trials"
    try:
        deadline = time.monotonic() + 300
        while not list(trials.glob("*/config.json")):  # a trial has started training
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(1)
        proc.send_signal(sig)  # the driver only, as a terminal's Ctrl-C or `kill` would
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        kill_matching(ray_tmp)
    text = log.read_text()
    assert proc.returncode == 130, text
    assert "interrupted" in text and "Resume it with the same command" in text, text
    assert "Traceback" not in text
    parents, stopped, _ = sweep_runs(workdir, "sig")
    assert len(parents) == 1
    assert parents[0].data.tags["ambientsweep.state"] == "interrupted"
    assert parents[0].info.status == "KILLED"
    assert stopped and all(c.info.status == "KILLED" and c.data.tags["ambientsweep.reason"]
                           for c in stopped)  # every run terminal, with the reason

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    parents, children, _ = sweep_runs(workdir, "sig")
    assert parents[0].data.tags["ambientsweep.state"] == "complete"
    complete = [c for c in children if c.data.tags["ambientsweep.state"] == "complete"]
    assert len(complete) == 3
    hashes = {c.data.tags["ambientsweep.config_hash"] for c in children}
    assert len(hashes) == len(children) == 3


def test_diverging_and_raising_trials_fail_and_sweep_goes_on(tmp_path: Path,
                                                             ray_tmp: str) -> None:
    empty = tmp_path / "empty_images"
    empty.mkdir()
    path = write_sweep(tmp_path, f"""\
        name: failing
        base: tiny.yaml
        space:
          train.lr: {{grid: [1.0e-3, 1.0e+30]}}
          data.name: {{grid: [digits, imagefolder]}}
        overrides: {{data.root: {empty}}}
        objectives:
          - {{metric: fd_digits_cnn}}
          - {{metric: mem_ratio_pixels}}
        execution: {{max_failures: 1}}
    """)
    workdir = tmp_path / "runs"
    res = subprocess.run(CLI + ["run", str(path), "--workdir", str(workdir)],
                         capture_output=True, text=True, timeout=600)
    # Finished, but with failed trials: exit status 3 and the failures listed with reasons.
    assert res.returncode == 3, res.stdout + res.stderr
    assert "3 trial(s) failed; the front is computed from the others:" in res.stdout
    assert "NaN or infinite" in res.stdout
    _, children, client = sweep_runs(workdir, "failing")
    by = {(c.data.params["param.train.lr"], c.data.params["param.data.name"]): c
          for c in children}
    assert len(by) == 4
    ok = by[("0.001", "digits")]
    assert ok.data.tags["ambientsweep.state"] == "complete"
    nan = by[("1e+30", "digits")]
    assert nan.data.tags["ambientsweep.state"] == "failed"
    assert "NaN or infinite" in nan.data.tags["ambientsweep.reason"]
    assert nan.data.tags["ambientsweep.budget_complete"] == "false"
    for key in (("0.001", "imagefolder"), ("1e+30", "imagefolder")):
        raised = by[key]
        assert raised.data.tags["ambientsweep.state"] == "failed"
        arts = [a.path for a in client.list_artifacts(raised.info.run_id)]
        assert "traceback.txt" in arts
    # Failed trials never reach the front.
    import pandas as pd

    table = pd.read_csv(workdir / "sweeps" / "failing" / "exports" / "pareto_trials.csv")
    assert set(table.loc[table["on_front"], "state"]) == {"complete"}
