"""`ambientsweep.__version__` comes from the installed package's metadata."""

from __future__ import annotations

import importlib
from importlib import metadata

import pytest

import ambientsweep


def test_version_is_the_package_metadata() -> None:
    assert ambientsweep.__version__ == metadata.version("ambientsweep")
    assert ambientsweep.__version__[0].isdigit()


def test_version_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    try:
        assert importlib.reload(ambientsweep).__version__ == "0+unknown"
    finally:
        monkeypatch.undo()
        importlib.reload(ambientsweep)
