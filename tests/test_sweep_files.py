"""Every committed sweep file validates (the CIFAR-10 one too, though it needs a GPU and data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.spec import load_sweep

SWEEPS = sorted((Path(__file__).resolve().parents[1] / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_committed_sweep_validates(path: Path) -> None:
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    loaded = load_sweep(path)
    assert loaded.spec.name == path.stem  # file name and sweep name agree


def test_default_sweep_is_sfbd() -> None:
    loaded = load_sweep(Path(__file__).resolve().parents[1] / "sweeps" /
                        "sfbd_clean_fraction.yaml")
    assert loaded.base["method"]["kind"] == "sfbd"
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "SWEEP ?= sweeps/sfbd_clean_fraction.yaml" in makefile
