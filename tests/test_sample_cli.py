"""`ambientsweep sample`: a finished trial's checkpoint gives new samples, PNG and .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.config import TrialConfig
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.trial import run_trial
from tests.conftest import TINY_BASE


def test_sample_from_a_trial_folder(tmp_path: Path) -> None:
    cfg = TrialConfig.model_validate(yaml.safe_load(TINY_BASE))
    trial = tmp_path / "trial"
    run_trial(cfg, ListReporter(), trial, cache_dir=tmp_path / "cache")
    runner = CliRunner()
    res = runner.invoke(app, ["sample", str(trial), "-n", "16", "--seed", "3"])
    assert res.exit_code == 0, res.output
    png, npz = (Path(p) for p in res.output.split())
    assert png.suffix == ".png" and png.stat().st_size > 0
    data = np.load(npz)
    assert data["samples"].shape == (16, 1, 8, 8)
    assert np.abs(data["samples"]).max() <= 1.0
    assert str(data["config_hash"]) == cfg.config_hash()
    again = runner.invoke(app, ["sample", str(trial), "-n", "16", "--seed", "3",
                                "--out", str(tmp_path / "b")])
    np.testing.assert_array_equal(np.load(Path(again.output.split()[1]))["samples"],
                                  data["samples"])  # same seed, same samples


def test_sample_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["sample", str(tmp_path)])
    assert res.exit_code == 2
    assert "no checkpoint" in res.stderr
