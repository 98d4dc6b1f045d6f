"""`ambientsweep commitment` over real trial folders and a real MLflow SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.config import TrialConfig
from ambientsweep.tracking.mlflow_log import MlflowTrialReporter, SweepTracking, default_uri
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.trial import run_trial
from ambientsweep.workdir import sweep_paths
from tests.bad_input import assert_refused
from tests.conftest import TINY_BASE


def _sweep(workdir: Path, kind: str = "edm") -> None:
    """Two replicates of one tiny configuration, trained for real, recorded as complete."""
    uri = default_uri(workdir)
    paths = sweep_paths(workdir, "toy")
    paths.sweep_dir.mkdir(parents=True)
    spec = {"name": "toy", "objectives": [{"metric": "mem_ratio_pixels", "direction": "min"}]}
    (paths.sweep_dir / "spec.json").write_text(json.dumps({"spec": spec, "base": {}}))
    tracking = SweepTracking(uri, "toy", "toy", workdir / "mlartifacts")
    parent, _ = tracking.ensure_parent({})
    base = yaml.safe_load(TINY_BASE)
    base["method"] = {"kind": kind}
    for rep in (0, 1):
        cfg = TrialConfig.model_validate({**base, "replicate": rep})
        tid = f"t-{rep}"
        run_trial(cfg, ListReporter(), paths.trials / tid, cache_dir=workdir / "cache")
        reporter = MlflowTrialReporter(uri, tracking.experiment_id, parent, "toy", tid, tid,
                                       {"replicate": rep}, {"group_id": "g", "method": kind})
        reporter.report({"mem_ratio_pixels": 0.5}, step=640)
    tracking.mark_trials({"t-0": ("complete", None), "t-1": ("complete", None)})
    tracking.finish("complete")


def test_commitment_table_per_configuration(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _sweep(workdir)
    out = tmp_path / "commit.md"
    res = CliRunner().invoke(app, ["commitment", "toy", "-w", str(workdir), "-n", "40",
                                   "--level", "1", "--level", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert out.read_text() == res.output
    assert lines[0] == ("| method | n | mem_ratio_pixels | commit_sigma_median | "
                        "committed_at_sigma>=1 | committed_at_sigma>=4 |")
    row = lines[2].split(" | ")
    assert row[0] == "| edm" and row[1] == "2"
    mem = float(row[2].split(" ± ")[0])
    assert 0.0 <= mem <= 1.0


def test_commitment_refuses_masked_sampling_and_unknown_sweeps(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _sweep(workdir, kind="ambient")
    runner = CliRunner()
    for args, message in ((["toy", "-n", "8"], "Ambient Diffusion samples through masks"),
                          (["nope"], "no sweep 'nope'"),
                          (["toy", "-n", "1"], "-n must be at least 2")):
        res = runner.invoke(app, ["commitment", *args, "-w", str(workdir)])
        assert_refused(res, [message], args)
