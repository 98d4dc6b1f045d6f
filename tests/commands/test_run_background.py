"""run_sweep's set-up thread (the record opens while Ray starts): value back, error raised."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ambientsweep.commands.run import Background
from ambientsweep.errors import UserError


def test_background_returns_what_ran_in_another_thread() -> None:
    main = threading.get_ident()
    got = Background(lambda: threading.get_ident()).result()
    assert got != main


def test_background_raises_the_error_in_the_caller() -> None:
    def bad() -> None:
        raise UserError("store unreachable")

    with pytest.raises(UserError, match="store unreachable"):
        Background(bad).result()


def _imports_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\n"
                          "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_a_fresh_store_is_not_checked_so_mlflow_is_not_imported_before_ray(
        tmp_path: Path) -> None:
    code = ("import ambientsweep.commands.run\n"
            "from ambientsweep.tracking.uri import fresh_store\n"
            f"assert fresh_store('sqlite:///{tmp_path}/mlflow.db')\n"
            "assert not fresh_store('http://127.0.0.1:5000')\n")
    assert "mlflow" not in _imports_after(code)
    (tmp_path / "mlflow.db").write_bytes(b"")
    from ambientsweep.tracking.uri import fresh_store

    assert not fresh_store(f"sqlite:///{tmp_path}/mlflow.db")  # an existing store is checked


def test_a_grid_sweeps_exports_do_not_import_optuna(tmp_path: Path) -> None:
    code = ("from pathlib import Path\n"
            "from ambientsweep.commands.exports import importance_and_log\n"
            f"assert importance_and_log(Path('{tmp_path}'), ['a'], Path('{tmp_path}/x'), None)"
            " == {}\n")
    assert "optuna" not in _imports_after(code)
    assert not (tmp_path / "x").exists()
