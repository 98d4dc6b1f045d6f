"""The one Trainer (phases, Adam, EMA, checkpoints) shared by every method."""

from ambientsweep.training.checkpoint import (
    CHECKPOINT_NAME,
    config_from_json,
    config_to_json,
    load_checkpoint,
    load_ema_denoiser,
    save_checkpoint,
)
from ambientsweep.training.ema import EMA, ema_decay
from ambientsweep.training.trainer import EvalPoint, Hooks, NoHooks, Trainer

__all__ = [
    "CHECKPOINT_NAME",
    "EMA",
    "EvalPoint",
    "Hooks",
    "NoHooks",
    "Trainer",
    "config_from_json",
    "config_to_json",
    "ema_decay",
    "load_checkpoint",
    "load_ema_denoiser",
    "save_checkpoint",
]
