"""A trial's final pictures (sample grid, memorization gallery) through MLflow's artifact API.

With a local store the artifact folder is read in place. With a tracking server the run's
artifact URI is ``mlflow-artifacts:/...`` (or any remote scheme): the files are listed and
downloaded through the client into one temporary folder per process (removed at exit), so the
dashboard gets real files to embed either way.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from ambientsweep.tracking.mlflow_log import MlflowClient, MlflowException

IMAGE_KEYS = ("samples", "gallery")
FINAL = "final"


@lru_cache(maxsize=1)
def _download_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ambientsweep-artifacts-"))
    atexit.register(shutil.rmtree, root, True)
    return root


def _local_dir(artifact_uri: str) -> Path | None:
    """The folder of a ``file://`` (or plain path) artifact URI; None for remote schemes."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a bare path (or a Windows drive)
        return Path(artifact_uri)
    return None


def _latest(names: list[str], key: str) -> str | None:
    found = sorted(n for n in names if Path(n).name.startswith(f"{key}_") and n.endswith(".png"))
    return found[-1] if found else None


def final_images(client: MlflowClient, run_id: str, artifact_uri: str) -> dict[str, str]:
    """``{"samples": path, "gallery": path}`` of the run's final pictures ("" when missing)."""
    local = _local_dir(artifact_uri)
    out = dict.fromkeys(IMAGE_KEYS, "")
    if local is not None:
        folder = local / FINAL
        names = [p.name for p in folder.glob("*.png")] if folder.is_dir() else []
        for key in IMAGE_KEYS:
            name = _latest(names, key)
            out[key] = str(folder / name) if name else ""
        return out
    try:
        names = [Path(a.path).name for a in client.list_artifacts(run_id, FINAL)]
    except (MlflowException, OSError):  # artifacts unreachable: no pictures, not a failure
        return out
    for key in IMAGE_KEYS:
        name = _latest(names, key)
        if name:
            dest = _download_root() / run_id
            dest.mkdir(parents=True, exist_ok=True)
            out[key] = client.download_artifacts(run_id, f"{FINAL}/{name}", str(dest))
    return out
