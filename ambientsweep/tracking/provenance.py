"""What produced a run: package versions and, when run from a git checkout, the commit.

Tags go on every run (the sweep's parent and each trial) under ``ambientsweep.``; the commit
also goes under MLflow's own ``mlflow.source.git.commit`` so the UI's source column shows it.
Nothing here imports torch, ray or optuna: versions come from the installed distributions.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PREFIX = "ambientsweep."
DISTRIBUTIONS = ("torch", "ray", "optuna", "mlflow")
CHECKOUT = Path(__file__).resolve().parents[2]  # the folder holding ambientsweep/


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def ambientsweep_version() -> str:
    """The package's version (the installed distribution's, else the source's)."""
    try:
        from ambientsweep import __version__  # type: ignore[attr-defined]

        return str(__version__)
    except ImportError:
        return version("ambientsweep")


def git_state(root: Path = CHECKOUT) -> tuple[str, bool] | None:
    """(commit, has uncommitted changes to tracked files) of a checkout at ``root``; None when
    ``root`` is not one (an installed wheel) or git is missing."""
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head, bool(dirty)) if head else None


@lru_cache(maxsize=1)
def provenance_tags() -> dict[str, str]:
    """``ambientsweep.version``, ``ambientsweep.<dist>_version`` for torch/ray/optuna/mlflow,
    and ``ambientsweep.git_commit`` (+ ``git_dirty``) when run from a checkout."""
    tags = {f"{PREFIX}version": ambientsweep_version()}
    tags.update({f"{PREFIX}{d}_version": version(d) for d in DISTRIBUTIONS})
    state = git_state()
    if state is not None:
        commit, dirty = state
        tags[f"{PREFIX}git_commit"] = commit
        tags[f"{PREFIX}git_dirty"] = str(dirty).lower()
        tags["mlflow.source.git.commit"] = commit
    return tags
