"""CLI conventions: --version, shell completion, help text on every option and argument."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

import ambientsweep
from ambientsweep.cli import app

CLI = [sys.executable, "-m", "ambientsweep"]


def test_version() -> None:
    res = subprocess.run(CLI + ["--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == f"ambientsweep {ambientsweep.__version__}\n"


def test_shell_completion_is_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    # Typer otherwise detects the shell from the process tree (shellingham), which fails under
    # some launchers (a detached job: "Shell  not supported"); the shell is named instead.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    res = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert res.exit_code == 0, res.output
    assert "_AMBIENTSWEEP_COMPLETE=complete_bash" in res.output
    assert "complete -o default -F _ambientsweep_completion ambientsweep" in res.output


def test_every_option_and_argument_has_help() -> None:
    group = typer.main.get_command(app)
    ctx = group.make_context("ambientsweep", [], resilient_parsing=True)
    missing = [
        f"{name} {param.name}"
        for name, command in group.commands.items()
        for param in command.params
        if not getattr(param, "help", None) and param.name != "help"
    ]
    assert not missing, missing
    assert len(group.list_commands(ctx)) >= 10
    assert "Exit status" in (group.help or "")
