"""Tiny data and configs for the trainer tests (MLP on 8x8, a few steps)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from ambientsweep.config import EvalConfig, TrialConfig
from ambientsweep.methods import EdmSpec
from ambientsweep.testing import tiny_config, tiny_corruption_input


@pytest.fixture
def splits() -> SimpleNamespace:
    view = tiny_corruption_input(n=16)
    return SimpleNamespace(train=view.x, train_index=view.index)


def _make_config(seed: int = 0, every_kimg: float | None = None, **train: Any) -> TrialConfig:
    train = {"kimg": 0.04, "log_every_kimg": 0.008, "lr_rampup_kimg": 0.016, **train}
    cfg = tiny_config(EdmSpec(), **train)
    return cfg.model_copy(update={"seed": seed, "eval": EvalConfig(every_kimg=every_kimg)})


@pytest.fixture
def make_config() -> Callable[..., TrialConfig]:
    """Factory: tiny EDM config, 10 steps of batch 4, loss logged every 2 steps."""
    return _make_config


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
