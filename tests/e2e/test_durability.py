"""Durability end to end: a SIGKILLed sweep resumes its trial from Tune's checkpoint, a second
driver is refused, storage_path holds everything the trials write (real Ray + MLflow)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import NON_DEFAULT_DATA, kill_matching
from tests.e2e.helpers import CLI, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e

# One trial long enough to be killed mid-way: 10 evaluations, each a Tune checkpoint.
LONG = """\
    name: {name}
    base: tiny.yaml
    overrides: {{train.kimg: 9.6, eval.every_kimg: 0.96}}
    space:
      train.lr: {{grid: [1.0e-3]}}
    objectives:
      - {{metric: fd_digits_cnn}}
      - {{metric: mem_ratio_pixels}}
    search: {{algorithm: grid, max_concurrent: 1}}
    {extra}
"""


def _files(folder: Path) -> dict[Path, int]:
    """Every file under `folder` with its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _checkpoints(storage: Path) -> list[Path]:
    return sorted(storage.glob("tune/*/checkpoint_*/checkpoint.pt"))


def test_sigkilled_sweep_on_shared_storage_resumes_trial_from_its_checkpoint(
        tmp_path: Path, ray_tmp: str, trained_cnn_cache: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One sweep shows both: a SIGKILLed driver's trial resumes from Tune's checkpoint, and
    with `execution.storage_path` everything the trials write is under it."""
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "1")  # Ray saves its state every second
    shared = tmp_path / "shared"
    monkeypatch.delenv("AMBIENTSWEEP_CACHE", raising=False)  # the cache too goes to storage
    # Data settings whose extractor is not shipped: the one the session trained is put where a
    # cluster keeps it. A trial that looked for it anywhere else would train one there.
    shutil.copytree(trained_cnn_cache, shared / "cache")
    cache_before = _files(shared / "cache")
    data = ", ".join(f"data.{k}: {v}" for k, v in NON_DEFAULT_DATA.items())
    path = write_sweep(tmp_path, LONG.format(
        name="kill", extra=f"execution: {{storage_path: {shared}}}").replace(
        "overrides: {", f"overrides: {{{data}, ", 1))
    workdir = tmp_path / "runs"
    cmd = CLI + ["run", str(path), "--workdir", str(workdir)]
    storage = shared / "kill" / "ray"
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not _checkpoints(storage):  # a trial reported a checkpoint mid-way
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(2)  # Ray's experiment state records the checkpoint
        os.killpg(proc.pid, signal.SIGKILL)  # driver and its Ray, as a crashed machine would
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        kill_matching(ray_tmp)
    _, children, _ = sweep_runs(workdir, "kill")
    assert len(children) == 1 and children[0].info.status == "RUNNING"  # left by the kill

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    parents, children, client = sweep_runs(workdir, "kill")
    assert parents[0].data.tags["ambientsweep.state"] == "complete"
    assert len(children) == 1  # one child run, reopened by the restored trial
    run = children[0]
    assert run.info.status == "FINISHED" and run.data.tags["ambientsweep.state"] == "complete"
    assert float(run.data.tags["ambientsweep.resumed_from_kimg"]) > 0  # not from step 0
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "loss")]
    assert len(steps) == len(set(steps))  # no step logged twice
    assert max(steps) >= 9600
    # Retention: Tune keeps one checkpoint per trial; the trial folder the final one only.
    assert len(_checkpoints(storage)) <= 1
    trial_dirs = list((shared / "kill" / "trials").iterdir())
    assert [p.name for p in trial_dirs[0].glob("checkpoint*")] == ["checkpoint.pt"]

    # The driver's work dir: the store, the sweep's own record, logs and exports; no trial.
    written = sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if p.is_file())
    allowed = ("mlflow.db", "sweeps/kill/sweep.json", "sweeps/kill/spec.json",
               "sweeps/kill/logs/", "sweeps/kill/exports/")
    assert all(w.startswith(allowed) for w in written), written
    assert not (workdir / "sweeps" / "kill" / "trials").exists()
    # The trials wrote under the storage path: folders, Tune's state, artifacts, cache.
    assert list(storage.glob("tune/experiment_state-*.json"))
    assert list((shared / "mlartifacts").rglob("samples_*.png"))
    assert not (workdir / "cache").exists()  # the extractor was read from the storage path
    assert _files(shared / "cache") == cache_before  # found there, not trained again


def test_second_driver_is_refused(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, LONG.format(name="locked", extra=""))
    workdir = tmp_path / "runs"
    sweep_dir = workdir / "sweeps" / "locked"
    sweep_dir.mkdir(parents=True)
    holder = subprocess.Popen(["sleep", "60"])  # a live process on this host holds it
    try:
        (sweep_dir / "driver.lock").write_text(
            f'{{"host": "{os.uname().nodename}", "pid": {holder.pid}, "since": 0}}')
        res = subprocess.run(CLI + ["run", str(path), "--workdir", str(workdir)],
                             capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 2, res.stdout + res.stderr
    assert "in use by another driver" in res.stderr and f"pid {holder.pid}" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (workdir / "mlflow.db").exists()  # the refused driver wrote no record
