"""validate/plan refuse an early-stopping metric the sweep never reports during training."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ambientsweep.cli import app

EDM = textwrap.dedent("""\
    data: {name: digits, train_size: 50}
    model: {backbone: mlp}
    train: {kimg: 0.64}
    eval: {num_samples: 64}
    method: {kind: edm}
""")
SFBD = EDM.replace("method: {kind: edm}",
                   "method: {kind: sfbd, pretrain_kimg: 0.32, rounds: 2, round_kimg: 0.32}")


def _sweep(tmp_path: Path, base: str, stopping: str, overrides: str = "") -> Path:
    (tmp_path / "base.yaml").write_text(base)
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: es
        base: base.yaml
        space:
          train.lr: {{grid: [1.0e-3, 2.0e-3]}}
        objectives:
          - {{metric: fd_digits_cnn}}
          - {{metric: mem_ratio_pixels}}
        early_stopping: {stopping}
    """) + overrides)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_evaluation_metric_without_every_kimg_exits_2(tmp_path: Path, runner: CliRunner,
                                                       command: str) -> None:
    path = _sweep(tmp_path, EDM, "{scheduler: asha, metric: fd_digits_cnn, grace_kimg: 0.16}")
    args = [command, str(path)] + (["--workdir", str(tmp_path / "w")] if command == "plan"
                                   else [])
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "early_stopping: 'fd_digits_cnn' is reported only with the final results" in res.stderr
    assert "add eval.every_kimg under overrides" in res.stderr
    assert str(path) in res.stderr and "Traceback" not in res.output
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
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert "'psnr_denoised' is never reported" in res.stderr
    assert "only SFBD" in res.stderr
