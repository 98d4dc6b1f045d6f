"""`ambientsweep ui`: an MLflow server over the work dir's store, opened on each sweep's trials.

The server is a child process in its own process group; SIGINT and SIGTERM of this process
stop it (the group, by the child's pid) before exiting, so no server is left holding the port.
With an http(s) tracking URI nothing is started: the URLs point at that server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from ambientsweep.errors import UserError

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


class ServerError(RuntimeError):
    """The MLflow server did not come up (exit status 1, not a usage error)."""


class Stopped(Exception):
    """A signal asked this process to stop; ``code`` is the exit status to use (128 + signo)."""

    def __init__(self, signo: int) -> None:
        super().__init__(signal.Signals(signo).name)
        self.code = 128 + signo


@dataclass(frozen=True)
class Page:
    """One sweep experiment's runs page."""

    label: str
    url: str


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (as it would: with SO_REUSEADDR, so
    connections of a stopped server in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def server_command(uri: str, host: str, port: int) -> list[str]:
    """`mlflow server` over the store, lean: one worker (job execution off via the env)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
            "--host", host, "--port", str(port), "--workers", "1"]


def wait_ready(base_url: str, proc: subprocess.Popen | None,
               timeout_s: float = READY_TIMEOUT_S) -> None:
    """Block until ``base_url/health`` answers; a dead child or a timeout is an error."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"mlflow server exited with status {proc.returncode} before "
                               "it served")
        if time.monotonic() > deadline:
            raise ServerError(f"mlflow server did not answer {base_url}/health within "
                               f"{timeout_s:.0f} s")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the server's process group (its pid), SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
                    ) -> Iterator[None]:
    """Turn the signals into a ``Stopped`` exception for the body; old handlers restored."""

    def handler(signo: int, _frame: FrameType | None) -> None:
        raise Stopped(signo)

    old: dict[int, Callable | int | None] = {}
    for s in signals:
        old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stderr (tests): inherit
        return None


def pages(uri: str, base_url: str, sweep: str | None) -> list[Page]:
    """Save the trials view in each sweep experiment and return the pages' URLs."""
    from ambientsweep.tracking import ui_view

    exps = ui_view.pick(ui_view.sweep_experiments(uri), sweep)
    out = []
    for e in exps:
        ui_view.save_trials_view(uri, e)
        label = ", ".join(e.sweeps) if e.sweeps != (e.name,) else e.name
        out.append(Page(f"{label} ({e.n_trials} trials)",
                        ui_view.runs_page_url(base_url, e.experiment_id)))
    return out


def _announce(found: list[Page], base_url: str, uri: str, out: TextIO, open_browser: bool,
              serving: bool) -> None:
    stop = "; Ctrl-C stops it" if serving else ""
    print(f"MLflow UI: {base_url}   (store {uri}{stop})", file=out)
    if not found:
        print("  no sweeps in this store yet", file=out)
    for p in found:
        print(f"  {p.label}: {p.url}", file=out)
    out.flush()
    if open_browser:
        webbrowser.open(found[0].url if found else base_url)


def serve_ui(uri: str, *, host: str = "127.0.0.1", port: int = 5000, sweep: str | None = None,
             open_browser: bool = False, out: TextIO = sys.stdout) -> int:
    """Serve (or point at) the MLflow UI, print each sweep's trials page; the exit status.

    Blocks until the server ends or SIGINT/SIGTERM arrives (then 128 + the signal number).
    """
    from ambientsweep.tracking.uri import is_server, store_uri

    if is_server(uri):
        base = uri.rstrip("/")
        found = pages(uri, base, sweep)
        _announce(found, base, uri, out, open_browser, serving=False)
        return 0
    store_uri(Path("."), uri, existing=True)  # the SQLite file must exist
    if not port_free(host, port):
        raise UserError(f"--port {port}: something already listens on {host}:{port}; pass "
                        "another --port")
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{url_host}:{port}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with stop_on_signals():
        proc = None
        try:
            found = pages(uri, base, sweep)  # before the server: a bad --sweep starts nothing
            # The server's own log goes to stderr: stdout carries only the pages' URLs.
            proc = subprocess.Popen(server_command(uri, host, port), env=env,
                                    stdout=_stderr_fd(), start_new_session=True)
            wait_ready(base, proc)
            _announce(found, base, uri, out, open_browser, serving=True)
            return proc.wait()
        except Stopped as s:
            return s.code
        finally:
            if proc is not None:
                for signo in (signal.SIGINT, signal.SIGTERM):  # a 2nd Ctrl-C must not cut this
                    signal.signal(signo, signal.SIG_IGN)
                stop_server(proc)
