"""validate/plan refuse an early-stopping metric the sweep never reports during training."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ambientsweep.cli import app
from tests.bad_input import QUICK_BASE, assert_refused, write_files

EDM = QUICK_BASE  # method: {kind: edm}
SFBD = EDM.replace("method: {kind: edm}",
                   "method: {kind: sfbd, pretrain_kimg: 0.32, rounds: 2, round_kimg: 0.32}")


def _sweep(tmp_path: Path, base: str, stopping: str, overrides: str = "") -> Path:
    return write_files(tmp_path, textwrap.dedent(f"""\
        name: es
        base: base.yaml
        space:
          train.lr: {{grid: [1.0e-3, 2.0e-3]}}
        objectives:
          - {{metric: fd_digits_cnn}}
          - {{metric: mem_ratio_pixels}}
        early_stopping: {stopping}
    """) + overrides, base)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_evaluation_metric_without_every_kimg_exits_2(tmp_path: Path, runner: CliRunner,
                                                       command: str) -> None:
    path = _sweep(tmp_path, EDM, "{scheduler: asha, metric: fd_digits_cnn, grace_kimg: 0.16}")
    args = [command, str(path)] + (["--workdir", str(tmp_path / "w")] if command == "plan"
                                   else [])
    assert_refused(runner.invoke(app, args), [
        "early_stopping: 'fd_digits_cnn' is reported only with the final results",
        "add eval.every_kimg under overrides", str(path)])
    assert not (tmp_path / "w").exists()  # nothing written


def test_every_kimg_makes_it_valid(tmp_path: Path, runner: CliRunner) -> None:
    path = _sweep(tmp_path, EDM, "{scheduler: asha, metric: fd_digits_cnn, grace_kimg: 0.16}",
                  "overrides:\n  eval.every_kimg: 0.16\n")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output


def test_loss_is_always_reported_during_training(tmp_path: Path, runner: CliRunner) -> None:
    path = _sweep(tmp_path, EDM, "{scheduler: median, metric: loss, grace_kimg: 0.16}")
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0


def test_sfbd_evaluates_every_round_without_every_kimg(tmp_path: Path,
                                                       runner: CliRunner) -> None:
    """The method answers: SFBD evaluates after pretraining and each round but the last."""
    path = _sweep(tmp_path, SFBD, "{scheduler: asha, metric: fd_digits_cnn, grace_kimg: 0.16}")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output


def test_metric_no_trial_reports(tmp_path: Path, runner: CliRunner) -> None:
    path = _sweep(tmp_path, EDM, "{scheduler: asha, metric: psnr_denoised, grace_kimg: 0.16}",
                  "overrides:\n  eval.every_kimg: 0.16\n")
    assert_refused(runner.invoke(app, ["validate", str(path)]),
                   ["'psnr_denoised' is never reported", "only SFBD"])


@pytest.mark.parametrize("search", [
    "space:\n  eval.every_kimg: {grid: [0.16, 0.32]}\nsearch: {algorithm: grid}\n",
    "space:\n  train.lr: {loguniform: [1.0e-4, 1.0e-2]}\n"
    "  eval.every_kimg: {choice: [0.16, 0.32]}\nsearch: {algorithm: optuna, num_trials: 4}\n",
])
def test_a_searched_every_kimg_counts(tmp_path: Path, runner: CliRunner, search: str) -> None:
    """Every trial sets the searched eval.every_kimg: the base config, which no trial runs,
    does not make the sweep invalid."""
    path = write_files(tmp_path, "name: es\nbase: base.yaml\n" + search + textwrap.dedent("""\
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
        early_stopping: {scheduler: asha, metric: fd_digits_cnn, grace_kimg: 0.16}
    """), EDM)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
