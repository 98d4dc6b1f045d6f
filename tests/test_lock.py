"""One driver per sweep folder: the lock refuses a live holder and takes over a dead one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from ambientsweep import lock
from ambientsweep.errors import UserError


def test_second_holder_refused_with_host_and_pid(tmp_path: Path) -> None:
    with lock.holding(tmp_path / "s") as path:
        held = json.loads(path.read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
        with pytest.raises(UserError, match=rf"in use by another driver .*pid {os.getpid()}"):
            lock.acquire(tmp_path / "s")
    assert not path.exists()


def test_stale_lock_of_a_dead_driver_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / lock.LOCK_NAME).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": dead.pid, "since": 0}))
    path = lock.acquire(tmp_path / "s")
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release(path)


def test_lock_from_another_host_is_reported_not_broken(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / lock.LOCK_NAME).write_text(json.dumps(
        {"host": "elsewhere", "pid": 1, "since": 0}))
    with pytest.raises(UserError, match=r"host elsewhere.*delete"):
        lock.acquire(tmp_path / "s")
    assert (tmp_path / "s" / lock.LOCK_NAME).exists()
