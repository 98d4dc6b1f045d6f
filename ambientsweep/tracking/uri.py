"""The tracking URI: the work dir's default store and the one check every command uses.

Accepted: ``sqlite:////abs/path.db`` (absolute: every Ray trial opens it from its own working
directory) and ``http(s)://host:port`` (an ``mlflow server``; it must answer ``/health``).
Commands that read a finished sweep also need the SQLite file to exist, so a typo in
``--workdir`` never creates an empty store.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from ambientsweep.errors import UserError

SQLITE = "sqlite:///"
HTTP = ("http://", "https://")


def default_uri(workdir: Path) -> str:
    """Absolute SQLite store at the root of the work dir (relative URIs break under Ray)."""
    return f"{SQLITE}{(Path(workdir).resolve() / 'mlflow.db').as_posix()}"


def is_server(uri: str) -> bool:
    return uri.startswith(HTTP)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a SQLite URI (None for a server)."""
    return Path(uri.removeprefix(SQLITE)) if uri.startswith(SQLITE) else None


def fresh_store(uri: str) -> bool:
    """A SQLite store whose file does not exist yet: nothing is recorded in it to read."""
    db = sqlite_path(uri)
    return db is not None and not db.is_file()


def store_uri(workdir: Path, given: str | None = None, *, existing: bool) -> str:
    """The tracking URI to use: `given`, else the work dir's SQLite store; checked.

    `existing`: the command reads a recorded sweep, so a SQLite store must already exist.
    Otherwise (a new run) a SQLite path must be absolute. A server must answer either way.
    """
    uri = given or default_uri(workdir)
    db = sqlite_path(uri)
    if db is not None:
        if existing and not db.is_file():
            raise UserError(f"no MLflow store at {db}; run a sweep first (ambientsweep run ...) "
                            "or check --workdir")
        if not existing and not db.is_absolute():
            raise UserError(f"tracking URI {uri}: use an absolute path (sqlite:////abs/mlflow.db)"
                            "; a relative one gives every Ray trial its own database")
    elif not is_server(uri):
        raise UserError(f"tracking URI {uri}: use sqlite:////abs/path.db or http(s)://host:port")
    check_reachable(uri)
    return uri


def check_reachable(uri: str) -> None:
    """Fail fast, with a clear message, when an http(s) tracking server does not answer."""
    if not is_server(uri):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as r:
            if r.status == 200:
                return
    except (urllib.error.URLError, OSError) as e:
        raise UserError(f"tracking URI {uri}: server not reachable ({e}); start it "
                        "(`mlflow server --host 127.0.0.1 ...`) or pass another "
                        "--tracking-uri") from None
    raise UserError(f"tracking URI {uri}: /health did not answer 200")
