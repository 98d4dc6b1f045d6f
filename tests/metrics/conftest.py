"""Shared fixtures: digits splits and one Evaluator (default settings: the shipped feature CNN)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ambientsweep.config import DataConfig, EvalConfig
from ambientsweep.data import Splits, load_splits
from ambientsweep.metrics import Evaluator


@pytest.fixture(scope="session")
def digits_splits() -> Splits:
    return load_splits(DataConfig(train_size=50), seed=0, replicate=0)


@pytest.fixture(scope="session")
def metrics_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metrics_cache")


@pytest.fixture(scope="session")
def evaluator(digits_splits: Splits, metrics_cache: Path) -> Evaluator:
    cfg = EvalConfig(gallery_size=4)
    return Evaluator(cfg, digits_splits, cache_dir=metrics_cache, device=torch.device("cpu"))
