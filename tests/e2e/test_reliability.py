"""Reliability end to end: interruptions, diverging and raising trials (real Ray + MLflow)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import (
    kill_group,
    run_sweep,
    start_cli,
    sweep_runs,
    wait_for_file,
    write_sweep,
)

pytestmark = pytest.mark.e2e

# Two trials, one at a time, each training long enough (~3 s on an idle core) to be signalled
# mid-way.
KIMG = 32.0


def _signal_mid_trial(path: Path, workdir: Path, sig: int, log: Path, ray_tmp: str) -> int:
    """Start the sweep, send `sig` to the driver alone (as a terminal's Ctrl-C or `kill`
    would) once a trial of this run has started training; the driver's exit status."""
    started = time.time()
    proc = start_cli("run", path, "--workdir", workdir, log=log)
    try:
        trials = workdir / "sweeps" / "sig" / "trials"
        wait_for_file(proc, trials, "*/config.json", log,
                      newer_than=started)  # written when a trial starts training
        time.sleep(1)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        kill_group(proc, ray_tmp)
    return proc.returncode


def test_signals_stop_cleanly_and_the_sweep_resumes(tmp_path: Path, ray_tmp: str) -> None:
    """SIGINT stops the sweep, its resume is stopped by SIGTERM, the next resume completes:
    every trial once, with no duplicate run."""
    path = write_sweep(tmp_path, f"""\
        name: sig
        base: tiny.yaml
        overrides: {{train.kimg: {KIMG}, train.log_every_kimg: {KIMG / 8}}}
        space:
          train.lr: {{grid: [5.0e-4, 2.0e-3]}}
        objectives:
          - {{metric: fd_digits_cnn}}
          - {{metric: mem_ratio_pixels}}
        search: {{algorithm: grid, max_concurrent: 1}}
    """)
    workdir = tmp_path / "runs"
    for sig in (signal.SIGINT, signal.SIGTERM):
        log = tmp_path / f"driver-{sig.name}.log"
        returncode = _signal_mid_trial(path, workdir, sig, log, ray_tmp)
        text = log.read_text()
        assert returncode == 130, (sig.name, text)
        assert "interrupted" in text and "Resume it with the same command" in text, text
        assert "Traceback" not in text
        assert (sig == signal.SIGINT) != ("(resumed)" in text), text  # the 2nd run resumed
        parents, children, _ = sweep_runs(workdir, "sig")
        assert len(parents) == 1
        assert parents[0].data.tags["ambientsweep.state"] == "interrupted"
        assert parents[0].info.status == "KILLED"
        stopped = [c for c in children if c.info.status != "FINISHED"]
        assert stopped and all(c.info.status == "KILLED" and c.data.tags["ambientsweep.reason"]
                               for c in stopped)  # every run terminal, with the reason

    run_sweep(path, workdir)
    parents, children, _ = sweep_runs(workdir, "sig")
    assert parents[0].data.tags["ambientsweep.state"] == "complete"
    complete = [c for c in children if c.data.tags["ambientsweep.state"] == "complete"]
    assert len(complete) == 2
    hashes = {c.data.tags["ambientsweep.config_hash"] for c in children}
    assert len(hashes) == len(children) == 2


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
    # Finished, but with failed trials: exit status 3 and the failures listed with reasons.
    res = run_sweep(path, workdir, expect=3)
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
