"""`ambientsweep commitment`: where finished trials' copies are decided, per configuration.

For every complete trial of the given sweeps, load its EMA model, draw samples with the trial's
own sampler while recording the denoiser calls, and measure each memorized sample's
commitment noise level (:mod:`ambientsweep.metrics.commitment`). The table has one row per
configuration, mean ± std over its seed replicates, like ``ambientsweep report``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ambientsweep.errors import UserError
from ambientsweep.metrics import names
from ambientsweep.workdir import sweep_paths

COMMIT_MEDIAN = names.COMMIT_SIGMA_MEDIAN  # median commitment sigma of the memorized samples
MEM_RATIO = names.MEM_RATIO_PIXELS  # of the samples drawn here (not the logged evaluation)
_share = names.committed_share_key


def trial_commitment(trial_dir: Path, *, n: int, seed: int,
                     levels: Sequence[float]) -> dict[str, float]:
    """Commitment statistics of one finished trial (its checkpoint and config)."""
    import torch

    from ambientsweep.data.datasets import load_splits
    from ambientsweep.methods import METHODS, build_method
    from ambientsweep.metrics.commitment import DenoiserCalls, commitment
    from ambientsweep.training.checkpoint import load_ema_denoiser
    from ambientsweep.utils.seeding import generator

    ckpt = trial_dir / "checkpoint.pt"
    if not ckpt.is_file():
        raise UserError(f"no checkpoint at {ckpt}")
    net, config = load_ema_denoiser(ckpt, device="cpu")
    method = build_method(config)
    if method.sampler_note is not None:
        plain = [k for k, cls in METHODS.items() if cls.sampler_note is None]
        raise UserError(f"{trial_dir}: commitment needs the plain denoiser's sampler; "
                        f"{method.sampler_note} (kinds {', '.join(plain)})")
    splits = load_splits(config.data, seed=config.seed, replicate=config.replicate)
    with torch.no_grad(), DenoiserCalls(net) as calls:
        x = method.sample(net, n, generator("commitment", seed))
    x = x.clamp(-1, 1) if config.sampler.clip else x
    c = commitment(calls, x.float(), splits.train)
    mem = c.memorized_commit()
    row = {MEM_RATIO: float(c.memorized.mean()),
           COMMIT_MEDIAN: float(np.median(mem)) if mem.size else float("nan")}
    row.update({_share(v): c.share_committed_above(v) for v in levels})
    return row


def commitment_sweeps(sweeps: list[str], *, n: int, seed: int, levels: Sequence[float],
                      workdir: Path, tracking_uri: str | None) -> str:
    """Markdown table: per configuration, mean ± std over replicates of the commitment stats."""
    from ambientsweep.analysis.report import finished_trials, markdown, summary_table
    from ambientsweep.commands.exports import load_sweep_results, resolve_sweep
    from ambientsweep.tracking.uri import store_uri

    if n < 2:
        raise UserError("-n must be at least 2")
    uri = store_uri(workdir, tracking_uri, existing=True)
    frames = []
    for s in sweeps:
        name, experiment, _ = resolve_sweep(s, workdir)
        df = finished_trials(load_sweep_results(uri, experiment, name, workdir))
        if df.empty:
            raise UserError(f"sweep {name!r} has no finished trials in {uri}")
        trials = sweep_paths(workdir, name).trials
        stats = [trial_commitment(trials / str(t), n=n, seed=seed, levels=levels)
                 for t in df["trial_id"]]
        stats = pd.DataFrame(stats)
        df = df.drop(columns=[c for c in stats.columns if c in df.columns])
        frames.append(pd.concat([df.reset_index(drop=True), stats], axis=1))
    df = pd.concat(frames, ignore_index=True)
    if len(frames) == 1:
        df = df.drop(columns=["sweep"])
    metrics = [MEM_RATIO, COMMIT_MEDIAN, *(_share(v) for v in levels)]
    return markdown(summary_table(df, metrics))
