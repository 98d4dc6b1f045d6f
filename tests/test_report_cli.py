"""`ambientsweep report` on a real MLflow SQLite store written by the tracking classes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.tracking.mlflow_log import MlflowTrialReporter
from tests.bad_input import assert_refused
from tests.mlflow_store import toy_sweep


def _store(workdir: Path) -> None:
    """A finished 2-point x 2-replicate SFBD-like sweep with per-round history."""
    fd0 = {0.1: 200.0, 0.2: 100.0}

    def log(rep_: MlflowTrialReporter, cf: float, rep: int) -> None:
        for rnd in range(3):
            rep_.report({"fd_digits_cnn": fd0[cf] - 20 * rnd + 10 * rep, "round": rnd},
                        step=64000 + 32000 * rnd)
        for rnd in (1, 2):
            rep_.report({"psnr_denoised": 12.0 + rnd + rep, "round": rnd}, step=rnd)
        rep_.report({"mem_ratio_pixels": 0.01 * (rep + 1)}, step=128000)

    toy_sweep(workdir, log)


def test_report_prints_seed_means_and_round_history(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir)
    out = tmp_path / "tables.md"
    res = CliRunner().invoke(app, ["report", "toy", "-w", str(workdir), "--history",
                                   "fd_digits_cnn", "--history", "psnr_denoised",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = res.output
    assert out.read_text() == text
    lines = text.splitlines()
    # Objectives, then the logged extras (psnr_denoised); each run's last value counts.
    assert "| method | clean_fraction | n | fd_digits_cnn | mem_ratio_pixels | psnr_denoised |" \
        in lines
    assert "| sfbd | 0.1 | 2 | 165 ± 7 | 0.015 ± 0.007 | 14.5 ± 0.7 |" in lines
    assert "| method | clean_fraction | n | round 0 | round 1 | round 2 |" in lines
    assert "| sfbd | 0.2 | 2 | 105 ± 7 | 85.0 ± 7.1 | 65.0 ± 7.1 |" in lines
    assert "| method | clean_fraction | n | round 1 | round 2 |" in lines  # psnr per round
    assert "| sfbd | 0.1 | 2 | 13.5 ± 0.7 | 14.5 ± 0.7 |" in lines


def test_report_bad_input_names_what(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir)
    runner = CliRunner()
    for args, message in (
            (["toy", "-m", "fd_digit_cnn"], "unknown metric(s) fd_digit_cnn"),
            (["nope"], "no sweep 'nope'"),
            (["toy", "-m", "holes_contrast"], "no trial of toy logged holes_contrast")):
        res = runner.invoke(app, ["report", *args, "-w", str(workdir)])
        assert_refused(res, [message], args)


def test_pareto_json_writes_the_summary(tmp_path: Path) -> None:
    """`-f json` is one of the formats every export path knows (analysis.formats.FORMATS)."""
    from ambientsweep.analysis.formats import FORMATS

    workdir = tmp_path / "runs"
    _store(workdir)
    out = tmp_path / "exports"
    res = CliRunner().invoke(app, ["pareto", "toy", "-w", str(workdir), "-f", "json",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [p.name for p in out.iterdir()] == ["pareto_summary.json"]
    summary = json.loads((out / "pareto_summary.json").read_text())
    assert [o["name"] for o in summary["objectives"]] == ["fd_digits_cnn", "mem_ratio_pixels"]
    toy = summary["sweeps"]["toy"]
    assert toy["n_trials"] == 4 and toy["n_configurations"] == 2
    assert toy["front"] and all(f["n_replicates"] == 2 for f in toy["front"])
    assert "json" in FORMATS
    res = CliRunner().invoke(app, ["pareto", "--help"])
    assert ",".join(FORMATS) in res.output.replace("\n", "").replace(" ", "")
