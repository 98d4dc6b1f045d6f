"""The work dir: one MLflow store shared by all sweeps, shared caches, one folder per sweep."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ambientsweep.errors import UserError

DEFAULT_WORKDIR = Path("ambientsweep-runs")
JOURNAL_NAME = "optuna-journal.log"  # the sweep's Optuna study (search/study.py)


@dataclass(frozen=True)
class SweepPaths:
    root: Path  # the work dir (absolute)
    sweep_dir: Path  # <root>/sweeps/<name>
    name: str

    @property
    def cache(self) -> Path:
        """Shared caches (feature classifier, weights); AMBIENTSWEEP_CACHE shares one across
        work dirs."""
        env = os.environ.get("AMBIENTSWEEP_CACHE")
        return Path(env).expanduser().resolve() if env else self.root / "cache"

    @property
    def artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def ray_storage(self) -> Path:
        return self.sweep_dir / "ray"

    @property
    def log_file(self) -> Path:
        return self.sweep_dir / "logs" / "ray.log"

    @property
    def trials(self) -> Path:
        """One folder per trial id: checkpoint, config.json, evaluation images."""
        return self.sweep_dir / "trials"

    @property
    def exports(self) -> Path:
        return self.sweep_dir / "exports"

    @property
    def state_file(self) -> Path:
        return self.sweep_dir / "sweep.json"

def sweep_paths(workdir: Path | str, name: str) -> SweepPaths:
    """Paths of sweep `name` in `workdir`; the sweep folder can never leave the work dir."""
    root = Path(workdir).expanduser().resolve()
    base = root / "sweeps"
    sweep_dir = (base / name).resolve()
    if sweep_dir.parent != base or name in ("", ".", ".."):
        raise UserError(f"sweep name {name!r} would leave the work dir {root}")
    return SweepPaths(root=root, sweep_dir=sweep_dir, name=name)


def check_writable(root: Path) -> None:
    """The work dir (or its nearest existing parent) must be writable; nothing is created."""
    probe = root
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"work dir {root}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"work dir {root}: {probe} is not writable (use --workdir)")
