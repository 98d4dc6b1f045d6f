"""Find and kill processes by a fragment of their command line (Linux ``/proc``).

Tests and benchmarks start a private Ray under their own temp dir; what a killed driver leaves
behind is found by that path and killed by pid, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def pids_matching(fragment: str) -> list[int]:
    """Pids (other than this process) whose command line contains `fragment`."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if fragment in cmd:
                out.append(int(d.name))
    return out


def kill_matching(fragment: str, wait_s: float = 10.0) -> None:
    """SIGKILL every process whose command line mentions `fragment`; wait up to `wait_s` for
    them to be gone."""
    for pid in pids_matching(fragment):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while pids_matching(fragment) and time.monotonic() < deadline:
        time.sleep(0.2)
