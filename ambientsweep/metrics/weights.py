"""Pretrained feature-extractor weights: where they live in the cache, and the one explicit fetch.

Library code only *looks* for weights (``weights_path``); the single function here that touches
the network is :func:`fetch_weights`, called by ``ambientsweep fetch-weights <name>``.

Layout: ``<cache_dir>/weights/inception-2015-12-05.pt`` is the TorchScript Inception-v3 that
clean-fid uses (the file ``cleanfid.downloads_helper.inception_url`` points to; clean-fid
itself would put it in /tmp and download it on first use).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from ambientsweep.errors import UserError, WeightsMissingError

__all__ = [
    "FETCHABLE",
    "INCEPTION_FILE",
    "fetch_hint",
    "fetch_weights",
    "require_weights",
    "weights_path",
]

INCEPTION_FILE = "inception-2015-12-05.pt"
_FILES = {"inception": INCEPTION_FILE, "dinov2": "dinov2_vitg14_pretrain.pth"}
FETCHABLE: tuple[str, ...] = ("inception",)


def weights_path(name: str, cache_dir: Path) -> Path:
    """Where the weights of feature extractor ``name`` are expected under ``cache_dir``."""
    if name not in _FILES:
        raise UserError(f"unknown weights {name!r}; known: {', '.join(_FILES)}")
    return Path(cache_dir) / "weights" / _FILES[name]


def fetch_hint(name: str, cache_dir: Path) -> str:
    """The sentence an error shows when weights are missing."""
    return (
        f"{name} weights not found at {weights_path(name, cache_dir)}. Fetch them once on a "
        f"machine with internet: `ambientsweep fetch-weights {name}` (or copy the file there)."
    )


def require_weights(name: str, cache_dir: Path) -> Path:
    """The weights file of ``name``; raise :class:`WeightsMissingError` when it is absent."""
    path = weights_path(name, cache_dir)
    if not path.is_file():
        raise WeightsMissingError(fetch_hint(name, cache_dir))
    return path


def _url(name: str) -> str:
    if name == "inception":
        from cleanfid.downloads_helper import inception_url

        return str(inception_url)
    raise UserError(
        f"fetching {name!r} weights is not supported; fetchable: {', '.join(FETCHABLE)}"
    )


def fetch_weights(name: str, cache_dir: Path, *, timeout_s: float = 60.0) -> Path:
    """Download the weights of ``name`` into the cache (the only network access of the library).

    Prints what it fetches. Does nothing when the file is already there.

    Raises:
        UserError: unknown name, or the download failed (e.g. offline); no partial file is left.
    """
    url = _url(name)
    path = weights_path(name, cache_dir)
    if path.is_file():
        print(f"{name} weights already cached at {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".part{os.getpid()}")
    print(f"fetching {name} weights: {url} -> {path}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as fh:
            shutil.copyfileobj(response, fh)
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        tmp.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        raise UserError(
            f"could not download {name} weights from {url}: {reason}. This needs internet; "
            f"alternatively copy the file to {path}."
        ) from None
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path
