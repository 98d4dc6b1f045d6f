"""The one tracking-URI check: absolute SQLite or a server that answers; existing stores."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ambientsweep.errors import UserError
from ambientsweep.tracking.uri import default_uri, sqlite_path, store_uri


def test_default_is_the_work_dirs_absolute_sqlite(tmp_path: Path) -> None:
    uri = store_uri(tmp_path, existing=False)
    assert uri == default_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert sqlite_path(uri) == tmp_path.resolve() / "mlflow.db"
    assert sqlite_path("http://127.0.0.1:5000") is None


def test_a_run_needs_an_absolute_sqlite_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="use an absolute path"):
        store_uri(tmp_path, "sqlite:///rel.db", existing=False)
    with pytest.raises(UserError, match=r"use sqlite:////abs/path.db or http\(s\)"):
        store_uri(tmp_path, "/tmp/mlruns", existing=False)


def test_reading_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no MLflow store at .*mlflow\.db.*check --workdir"):
        store_uri(tmp_path, existing=True)
    assert not (tmp_path / "mlflow.db").exists()  # the check created nothing
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert store_uri(tmp_path, existing=True) == default_uri(tmp_path)


def test_a_server_must_answer(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match="server not reachable"):
        store_uri(tmp_path, f"http://127.0.0.1:{port}", existing=True)
