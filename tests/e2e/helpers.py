"""What the end-to-end tests share: a sweep file on the tiny base, the CLI in a child process
(to the end, or in the background until a line or a file shows), the store's runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from tests.conftest import TINY_BASE, kill_matching

CLI = [sys.executable, "-m", "ambientsweep"]


def write_sweep(tmp_path: Path, sweep: str, name: str = "sweep") -> Path:
    """`sweep` (dedented) as tmp_path/<name>.yaml next to the tiny base config tiny.yaml."""
    (tmp_path / "tiny.yaml").write_text(TINY_BASE)
    path = tmp_path / f"{name}.yaml"
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


def ray_trials(workdir: Path, name: str) -> list[Any]:
    """Every trial of sweep `name` as Ray's own experiment state records it."""
    from ray.tune import ExperimentAnalysis

    return ExperimentAnalysis(str(workdir / "sweeps" / name / "ray" / "tune")).trials


def run_cli(*args: str | Path, expect: int | None = 0,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`ambientsweep ARGS` in a child process to its end, output captured as text; its exit
    status must be `expect` (None: any), else the test fails showing the output."""
    res = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                         timeout=timeout)
    if expect is not None:
        assert res.returncode == expect, res.stdout + res.stderr
    return res


def run_sweep(path: Path, workdir: Path, *extra: str | Path, expect: int | None = 0,
              timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`ambientsweep run PATH --workdir WORKDIR EXTRA...` through :func:`run_cli`."""
    return run_cli("run", path, "--workdir", workdir, *extra, expect=expect, timeout=timeout)


def start_cli(*args: str | Path, log: Path | None = None) -> subprocess.Popen[str]:
    """`ambientsweep ARGS` in the background, in a process group of its own (so the test can
    signal the driver alone, or kill it with all it started); stdout and stderr together,
    into `log` when given, else a pipe."""
    cmd = CLI + [str(a) for a in args]
    if log is None:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    with open(log, "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)


def first_complete(line: str) -> bool:
    """The live view's line for a trial that finished its budget."""
    return line.strip().startswith("complete")


def read_until(proc: subprocess.Popen[str], stop: Callable[[str], bool],
               timeout: float = 300) -> list[str]:
    """`proc`'s output lines up to the first for which `stop` is true; the test fails when the
    output ends or `timeout` seconds pass first."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        seen.append(line)
        if stop(line):
            return seen
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError("output ended first:\n" + "".join(seen))


def wait_for_file(proc: subprocess.Popen[str], folder: Path, pattern: str, log: Path,
                  timeout: float = 300, newer_than: float = 0.0) -> None:
    """Wait until `folder` holds a file matching `pattern` (modified after `newer_than`, a
    time.time()) while `proc` runs; fails showing `log` when it ends or `timeout` seconds pass
    first."""
    deadline = time.monotonic() + timeout
    while not [p for p in folder.glob(pattern) if p.stat().st_mtime > newer_than]:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def kill_group(proc: subprocess.Popen[str], ray_tmp: str | None = None) -> None:
    """SIGKILL `proc`'s process group if it still runs, and every process of the private Ray
    under `ray_tmp` (the local Ray a killed driver leaves behind)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    if ray_tmp is not None:
        kill_matching(ray_tmp)
