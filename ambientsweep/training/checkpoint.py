"""Checkpoints: state dicts + the resolved config as JSON, written atomically, loaded safely.

Every checkpoint records ``schema_version`` (:mod:`ambientsweep.versions`): a trial resumes
only from a checkpoint of a version it can resume from, and ``sample``/``commitment`` refuse a
model from a version whose models mean something else.

No pickled code (EDM's persistence pickles source): a checkpoint holds tensors and primitives
only, so ``torch.load(..., weights_only=True)`` reads it, and the model is rebuilt from the
config.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ambientsweep.config import TrialConfig
from ambientsweep.errors import UserError
from ambientsweep.models.precond import Denoiser, build_denoiser
from ambientsweep.versions import VERSION_KEY, check_version

CHECKPOINT_NAME = "checkpoint.pt"
VARIANT_KEY = "variant"  # the method fields a checkpoint's network depends on, as saved


class CheckpointVariantError(UserError):
    """A checkpoint's recorded variant disagrees with the config it is loaded as."""


def config_to_json(config: TrialConfig) -> str:
    """The resolved config as JSON that round-trips (keeps inf, e.g. sampler.s_tmax)."""
    # NOTE: pydantic's model_dump_json writes inf as null, which does not validate back.
    return json.dumps(config.model_dump(mode="python"), default=str, sort_keys=True)


def config_from_json(text: str) -> TrialConfig:
    """The stored config; a field added later with a ``LEGACY_DEFAULTS`` entry on its method
    spec gets the value the stored config was made with, not the new default (with a warning).
    """
    raw = json.loads(text)
    filled = _fill_legacy(raw)
    if filled:
        warnings.warn(
            "the stored config predates "
            + ", ".join(f"method.{k}" for k in filled)
            + "; loaded as it was made: "
            + ", ".join(f"{k}={v!r}" for k, v in filled.items()),
            stacklevel=2,
        )
    return TrialConfig.model_validate(raw)


def _fill_legacy(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill in `raw`'s method fields that its spec's ``LEGACY_DEFAULTS`` names; return them."""
    from ambientsweep.methods.registry import default_kind, method_spec

    method = raw.get("method")
    if not isinstance(method, dict):
        return {}
    try:
        cls = method_spec(str(method.get("kind", default_kind())))
    except KeyError:
        return {}  # validation names the unknown kind
    legacy = cls.LEGACY_DEFAULTS
    filled = {k: v for k, v in legacy.items() if k not in method}
    method.update(filled)
    return filled


def method_variant(config: TrialConfig) -> dict[str, Any]:
    """``{"<kind>.<field>": value}`` for the method fields listed in its ``LEGACY_DEFAULTS``:
    the choices whose meaning changed, recorded in every checkpoint under ``variant``."""
    spec = config.method
    values = spec.model_dump(mode="json")
    fields = sorted(type(spec).LEGACY_DEFAULTS)
    return {f"{spec.kind}.{k}": values[k] for k in fields}


def check_variant(state: dict[str, Any], config: TrialConfig, where: Path | str) -> None:
    """Refuse a checkpoint whose recorded variant is not the one its config resolves to.

    A checkpoint without a record predates it; its config was filled with the legacy values by
    :func:`config_from_json`, so it still loads as what it was trained as.

    Raises:
        CheckpointVariantError: the two differ (names the file and both variants).
    """
    recorded = state.get(VARIANT_KEY)
    if recorded is None:
        return
    expected = method_variant(config)
    if dict(recorded) != expected:
        raise CheckpointVariantError(
            f"{where}: the checkpoint records method variant {dict(recorded)}, but its config "
            f"resolves to {expected}; refusing to load it as another variant"
        )


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
    check_version(state.get(VERSION_KEY), "load_model", f"checkpoint {checkpoint_path}",
                  fix="Retrain the trial with this version (or sample it with the version that "
                  "wrote it).")
    config = config_from_json(state["config"])
    check_variant(state, config, checkpoint_path)
    c, h, _ = (int(v) for v in state["image_shape"])
    net = build_denoiser(
        config.model, channels=c, resolution=h, extra_channels=int(state["extra_channels"])
    )
    net.load_state_dict(state["ema"])
    return net.to(device).eval().requires_grad_(False), config
