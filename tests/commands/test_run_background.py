"""run_sweep's set-up thread (the record opens while Ray starts): value back, error raised."""

from __future__ import annotations

import threading

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
