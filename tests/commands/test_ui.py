"""`ambientsweep ui` over a real SQLite store: the URLs it prints, bad input, and its
`mlflow server` child stopped (by pid, with its process group) on SIGINT and SIGTERM."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ambientsweep.commands.ui import port_free
from tests.mlflow_store import hand_logged_sweep

CLI = [sys.executable, "-m", "ambientsweep"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc's parent links)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_ui(workdir: Path, port: int, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    """`ambientsweep ui` on ``port``; returns it and its printed lines once it serves."""
    proc = subprocess.Popen(CLI + ["ui", "--workdir", str(workdir), "--port", str(port),
                                   *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline()]  # printed only once the server answers /health
    assert lines[0].startswith("MLflow UI: "), lines
    lines.append(proc.stdout.readline())
    return proc, lines


@pytest.mark.e2e
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_ui_stops_its_server_on_signal(tmp_path: Path, signo: int) -> None:
    eid = hand_logged_sweep(tmp_path)
    port = free_port()
    proc, lines = start_ui(tmp_path, port)
    try:
        url = re.search(r"http://\S+", lines[1]).group(0)
        assert url == (f"http://127.0.0.1:{port}/#/experiments/{eid}/runs?"
                       "workflowType=machine_learning&viewStateShareKey=ambientsweep-trials")
        assert lines[1].strip().startswith("handmade (3 trials): ")
        server = descendants(proc.pid)
        assert server and not port_free("127.0.0.1", port)
        proc.send_signal(signo)
        assert proc.wait(timeout=30) == 128 + signo
        deadline = time.monotonic() + 10
        while any(alive(p) for p in server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in server if alive(p)], "mlflow server left running"
        assert port_free("127.0.0.1", port)
    finally:
        for p in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)


def test_ui_without_a_store_is_a_usage_error(tmp_path: Path) -> None:
    res = subprocess.run(CLI + ["ui", "--workdir", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "no MLflow store at" in res.stderr and "Traceback" not in res.stderr


def test_ui_on_a_busy_port_or_unknown_sweep_starts_nothing(tmp_path: Path) -> None:
    hand_logged_sweep(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        res = subprocess.run(CLI + ["ui", "--workdir", str(tmp_path), "--port", str(busy)],
                             capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and f"--port {busy}" in res.stderr, res.stderr
    res = subprocess.run(CLI + ["ui", "nope", "--workdir", str(tmp_path), "--port",
                                str(free_port())], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "'nope' is not in the tracking store" in res.stderr
    assert "MLflow UI" not in res.stdout
