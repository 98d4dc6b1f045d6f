"""Shared fixtures: tiny real configs, and clean-up of processes a test starts."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ambientsweep.testing.processes import kill_matching

# A real (tiny) training run: MLP backbone, 20 steps, 64 samples, 6-point sampler grid. The
# default reference and classifier splits, so the fidelity CNN is the shipped one (no training).
TINY_BASE = textwrap.dedent("""\
    data: {name: digits, train_size: 50}
    model: {backbone: mlp, mlp_hidden: 64, mlp_layers: 3}
    train: {kimg: 0.64, batch_size: 32, lr_rampup_kimg: 0.1, log_every_kimg: 0.32}
    sampler: {steps: 6}
    eval: {num_samples: 64, gallery_size: 4}
    method: {kind: edm}
""")

@pytest.fixture(scope="session", autouse=True)
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One feature-classifier cache for every sweep the tests run (data settings other than
    the default ones train their classifier once into it, ~15 s; TINY_BASE's use the shipped
    one)."""
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("AMBIENTSWEEP_CACHE")
    os.environ["AMBIENTSWEEP_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("AMBIENTSWEEP_CACHE", None)
    else:
        os.environ["AMBIENTSWEEP_CACHE"] = old


# Data settings whose feature CNN is not shipped: it trains on first use (~15 s) into a cache.
NON_DEFAULT_DATA = {"split_seed": 1, "train_size": 50}


@pytest.fixture(scope="session")
def trained_cnn_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the digits_cnn of :data:`NON_DEFAULT_DATA`, trained once per session
    (the default settings use the shipped weights and never train)."""
    import torch

    from ambientsweep.config import DataConfig
    from ambientsweep.data import load_splits
    from ambientsweep.metrics.features import load_or_train_cnn

    cache = tmp_path_factory.mktemp("trained_cnn_cache")
    splits = load_splits(DataConfig(**NON_DEFAULT_DATA), seed=0, replicate=0)
    feats = load_or_train_cnn(splits, cache, torch.device("cpu"))
    assert feats.source == "trained"
    return cache


@contextlib.contextmanager
def private_ray_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A short private Ray temp dir (socket paths must stay under 107 chars) for the sweeps
    started meanwhile; Ray processes started under it are killed by pid at the end."""
    d = tempfile.mkdtemp(prefix="asray", dir="/tmp")
    monkeypatch.setenv("AMBIENTSWEEP_RAY_TMPDIR", d)
    try:
        yield d
    finally:
        kill_matching(d)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ray_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """:func:`private_ray_tmp` for one test."""
    with private_ray_tmp(monkeypatch) as d:
        yield d
