"""The work dir: one MLflow store shared by all sweeps, shared caches, one folder per sweep."""

from __future__ import annotations

import json
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
    # execution.storage_path: a shared folder (absolute) or a pyarrow-fs URI (s3://, gs://).
    # A folder holds Ray's state, the trial folders, the cache and the trials' artifacts; a
    # URI holds Ray's state and checkpoints (trial folders are then Ray's, on each node).
    storage: str | None = None

    @property
    def storage_dir(self) -> Path | None:
        """The shared storage folder (None: none, or a URI)."""
        if self.storage is None or "://" in self.storage:
            return None
        return Path(self.storage).expanduser().resolve()

    @property
    def storage_is_uri(self) -> bool:
        return self.storage is not None and "://" in self.storage

    @property
    def cache(self) -> Path:
        """Shared caches (feature classifier, weights); AMBIENTSWEEP_CACHE shares one across
        work dirs."""
        env = os.environ.get("AMBIENTSWEEP_CACHE")
        if env:
            return Path(env).expanduser().resolve()
        return (self.storage_dir or self.root) / "cache"

    @property
    def artifacts(self) -> Path:
        """Artifact root of a file-backed store (trials write here through MLflow's API)."""
        return (self.storage_dir or self.root) / "mlartifacts"

    @property
    def ray_storage(self) -> str:
        """Ray Tune's storage_path: a folder or a URI."""
        if self.storage_is_uri:
            return f"{str(self.storage).rstrip('/')}/{self.name}/ray"
        return str((self.storage_dir / self.name if self.storage_dir else self.sweep_dir)
                   / "ray")

    @property
    def log_file(self) -> Path:
        return self.sweep_dir / "logs" / "ray.log"

    @property
    def trials(self) -> Path:
        """One folder per trial id: checkpoint, config.json, evaluation images."""
        return (self.storage_dir / self.name if self.storage_dir else self.sweep_dir) / "trials"

    @property
    def exports(self) -> Path:
        return self.sweep_dir / "exports"

    @property
    def state_file(self) -> Path:
        return self.sweep_dir / "sweep.json"

    @property
    def sweep_id(self) -> str | None:
        """The sweep folder's unique id (its parent run's tag); None for a folder without one
        (none yet, or from before ids)."""
        try:
            return json.loads(self.state_file.read_text()).get("sweep_id")
        except (OSError, ValueError, AttributeError):
            return None


def sweep_paths(workdir: Path | str, name: str, storage: str | None = None) -> SweepPaths:
    """Paths of sweep `name` in `workdir`; the sweep folder can never leave the work dir.

    Without `storage`, an existing sweep's own (``sweep.json``'s ``storage_path``) is used.
    """
    root = Path(workdir).expanduser().resolve()
    base = root / "sweeps"
    sweep_dir = (base / name).resolve()
    if sweep_dir.parent != base or name in ("", ".", ".."):
        raise UserError(f"sweep name {name!r} would leave the work dir {root}")
    if storage is None and (sweep_dir / "sweep.json").is_file():
        try:
            storage = json.loads((sweep_dir / "sweep.json").read_text()).get("storage_path")
        except (OSError, ValueError, AttributeError):
            storage = None
    return SweepPaths(root=root, sweep_dir=sweep_dir, name=name, storage=storage)


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
