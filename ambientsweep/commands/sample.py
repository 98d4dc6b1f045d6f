"""`ambientsweep sample`: N samples of a finished trial's EMA model, as a PNG grid and an .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ambientsweep.errors import UserError


def sample_trial(trial: Path, *, n: int, out: Path | None = None, seed: int = 0) -> list[Path]:
    """Load the trial's checkpoint (weights only) and sample it with its own method's sampler."""
    from ambientsweep.methods import build_method
    from ambientsweep.metrics.pictures import save_grid
    from ambientsweep.training.checkpoint import load_ema_denoiser
    from ambientsweep.utils.seeding import generator

    trial = Path(trial)
    ckpt = trial if trial.is_file() else trial / "checkpoint.pt"
    if not ckpt.is_file():
        raise UserError(f"no checkpoint at {ckpt}; give a trial folder "
                        "(<workdir>/sweeps/<sweep>/trials/<trial id>) or its checkpoint.pt")
    if n < 1:
        raise UserError("-n must be at least 1")
    net, config = load_ema_denoiser(ckpt, device="cpu")
    method = build_method(config)
    with torch.no_grad():
        x = method.sample(net.eval(), n, generator("sample", seed))
    x = x.clamp(-1, 1) if config.sampler.clip else x
    out = Path(out) if out else ckpt.parent / "samples"
    out.mkdir(parents=True, exist_ok=True)
    grid = save_grid(x, out / f"samples_n{n}_seed{seed}.png", max_images=min(n, 400))
    npz = out / f"samples_n{n}_seed{seed}.npz"
    np.savez_compressed(npz, samples=x.numpy().astype(np.float32), seed=seed,
                        config_hash=config.config_hash())
    return [grid, npz]
