"""`ambientsweep report --format latex [--ci]` on a real SQLite store."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from ambientsweep.cli import app
from tests.test_report_cli import _store


def test_report_latex_and_interval(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir)
    res = CliRunner().invoke(app, ["report", "toy", "--workdir", str(workdir), "--format",
                                   "latex", "--history", "fd_digits_cnn"])
    assert res.exit_code == 0, res.output
    # The summary, the hypervolume of each seed's front (2 seeds), the per-round history.
    assert res.output.count(r"\begin{tabular}") == 3 and r"\toprule" in res.output
    assert r"\caption{Hypervolume of each seed's front" in res.output
    assert re.search(r"^toy & 2 & [\d.]+ \$\\pm\$ [\d.]+ \\\\$", res.output, re.M)
    # Final fd of the two replicates at clean fraction 0.1: 160 and 170 -> 165 ± 7.
    assert r"0.1 & 2 & 165 $\pm$ 7" in res.output
    assert r"\caption{fd\_digits\_cnn per logged step. Mean $\pm$ sample standard" in res.output
    ci = CliRunner().invoke(app, ["report", "toy", "--workdir", str(workdir), "--ci"])
    assert ci.exit_code == 0, ci.output
    # t_{0.975,1} * 7.07 / sqrt 2 = 12.706 * 5 = 63.5
    assert "| 0.1 | 2 | 165 ± 64 |" in ci.output and "95 % Student-t interval" in ci.output
    bad = CliRunner().invoke(app, ["report", "toy", "--workdir", str(workdir), "-f", "docx"])
    assert bad.exit_code == 2 and "--format: unknown 'docx'" in bad.output
