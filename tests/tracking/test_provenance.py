"""Provenance tags: versions of the installed stack and the checkout's commit."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

from ambientsweep.tracking import provenance


def test_provenance_names_versions_and_this_checkout() -> None:
    tags = provenance.provenance_tags()
    for dist in ("torch", "ray", "optuna", "mlflow"):
        assert tags[f"ambientsweep.{dist}_version"] == metadata.version(dist)
    assert tags["ambientsweep.version"] == provenance.ambientsweep_version() != ""
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():  # the tests run from a checkout (or a worktree of one)
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert tags["ambientsweep.git_commit"] == head == tags["mlflow.source.git.commit"]
        assert tags["ambientsweep.git_dirty"] in ("true", "false")


def test_no_commit_outside_a_checkout(tmp_path: Path) -> None:
    assert provenance.git_state(tmp_path) is None
    assert provenance.version("surely-not-a-distribution-xyz") == "not installed"
