"""One driver per sweep folder: a lock file holding the holder's host and pid.

``sweeps/<name>/driver.lock`` is created with O_EXCL, so two drivers starting at once cannot
both get it. A lock whose holder is on this host and no longer alive is stale and taken over;
a lock held from another host cannot be checked from here and is reported with its holder, so
whoever knows that driver is gone can delete the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from ambientsweep.errors import UserError

LOCK_NAME = "driver.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _holder(path: Path) -> dict[str, object] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def acquire(sweep_dir: Path) -> Path:
    """Take the sweep's lock or raise UserError naming the live holder."""
    path = Path(sweep_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = _holder(path)
            if held is None:  # being written right now, or garbage: look again
                time.sleep(0.2)
                held = _holder(path)
                if held is None:
                    path.unlink(missing_ok=True)
                    continue
            host, pid = str(held.get("host")), int(str(held.get("pid", -1)))
            if host == me["host"] and not _alive(pid):
                path.unlink(missing_ok=True)  # stale: its driver died
                continue
            t = time.localtime(float(str(held.get("since", 0))))
            since = time.strftime("%Y-%m-%d %H:%M", t)
            raise UserError(
                f"sweep folder {sweep_dir} is in use by another driver (host {host}, pid {pid}, "
                f"since {since}); wait for it to end or stop it. If that driver is gone (e.g. its "
                f"host crashed), delete {path} and run again.") from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return path
    raise UserError(f"could not take the lock {path}; delete it if no driver runs this sweep")


def release(path: Path) -> None:
    """Remove the lock if this process holds it."""
    held = _holder(path)
    if held and held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def holding(sweep_dir: Path) -> Iterator[Path]:
    """The lock for the block; folders the lock alone created are removed after it (a refused
    run leaves nothing behind)."""
    sweep_dir = Path(sweep_dir)
    created = []
    for d in (sweep_dir, *sweep_dir.parents):
        if d.exists():
            break
        created.append(d)
    path = acquire(sweep_dir)
    try:
        yield path
    finally:
        release(path)
        for d in created:  # deepest first; a folder something else wrote into stays
            with contextlib.suppress(OSError):
                d.rmdir()
