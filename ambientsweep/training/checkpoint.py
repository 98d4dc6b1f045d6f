"""Checkpoints: state dicts + the resolved config as JSON, written atomically, loaded safely.

No pickled code (EDM's persistence pickles source): a checkpoint holds tensors and primitives
only, so ``torch.load(..., weights_only=True)`` reads it, and the model is rebuilt from the
config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ambientsweep.config import TrialConfig
from ambientsweep.models.precond import Denoiser, build_denoiser

CHECKPOINT_NAME = "checkpoint.pt"


def config_to_json(config: TrialConfig) -> str:
    """The resolved config as JSON that round-trips (keeps inf, e.g. sampler.s_tmax)."""
    # NOTE: pydantic's model_dump_json writes inf as null, which does not validate back.
    return json.dumps(config.model_dump(mode="python"), default=str, sort_keys=True)


def config_from_json(text: str) -> TrialConfig:
    return TrialConfig.model_validate(json.loads(text))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary file, then rename over `path` (atomic on one filesystem)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    return torch.load(Path(path), map_location=map_location, weights_only=True)


def load_ema_denoiser(
    checkpoint_path: Path, device: torch.device | str = "cpu"
) -> tuple[Denoiser, TrialConfig]:
    """The EMA denoiser (eval mode) and the trial config stored in a Trainer checkpoint."""
    state = load_checkpoint(checkpoint_path, map_location=device)
    config = config_from_json(state["config"])
    c, h, _ = (int(v) for v in state["image_shape"])
    net = build_denoiser(
        config.model, channels=c, resolution=h, extra_channels=int(state["extra_channels"])
    )
    net.load_state_dict(state["ema"])
    return net.to(device).eval().requires_grad_(False), config
