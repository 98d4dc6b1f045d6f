"""Caps on what one sweep file may ask for: trials, replicates, grid points, per-trial budgets.

A sweep file is untrusted input: a few bytes can ask for a grid of 10^12 points, a billion kimg
or a UNet of a million channels (which ``plan`` would try to build to time it). These caps are
far above every stock sweep (the CIFAR-10 base trains EDM's full 200 Mimg) and each error says
which key passed which cap. ``--allow-large`` (``validate``, ``plan``, ``run``) lifts them for
real large sweeps; :data:`HARD_GRID_PRODUCT` stays, since the grid is enumerated to be checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ambientsweep.config import TrialConfig
from ambientsweep.methods.spec import MethodSpecBase
from ambientsweep.search.algorithms import GRID
from ambientsweep.spec.schema import SweepSpec

ALLOW_LARGE_HINT = "pass --allow-large to run it anyway"
HARD_GRID_PRODUCT = 10_000_000  # cross-product size enumerated at most, flag or not


@dataclass(frozen=True)
class Limits:
    """The caps. Sizes are per sweep (trials, grid) or per trial (everything else)."""

    trials: int = 2_000  # configurations x replicates
    replicates: int = 50
    grid_points: int = 1_000  # distinct grid points (after `when`)
    grid_product: int = 100_000  # product of the value counts, checked before enumerating
    kimg: float = 200_000.0  # training images per trial, all phases (EDM CIFAR-10: 200 Mimg)
    num_samples: int = 50_000  # samples per evaluation (FID-50k)
    resolution: int = 128
    evaluations: int = 1_000  # evaluations per trial (total kimg / eval.every_kimg)
    loss_logs: int = 100_000  # loss reports per trial (total kimg / train.log_every_kimg)
    checkpoints: int = 10_000  # checkpoints per trial (total kimg / checkpoint_every_kimg)
    batch_size: int = 65_536
    channels: int = 1_024
    levels: int = 8  # entries of model.channel_mult
    channel_mult: int = 16
    num_blocks: int = 16
    emb_dim: int = 8_192
    mlp_hidden: int = 16_384
    mlp_layers: int = 64
    sampler_steps: int = 1_000
    sfbd_rounds: int = 100  # method.rounds of a multi-round method (SFBD)
    gallery_size: int = 1_024


DEFAULT = Limits()


def sweep_size_problems(spec: SweepSpec, limits: Limits = DEFAULT) -> list[tuple[str, str]]:
    """(key, message) for the sweep-level caps; grid points are counted without expanding."""
    out: list[tuple[str, str]] = []
    if spec.replicates > limits.replicates:
        out.append(("replicates", f"{spec.replicates:,} replicates; the cap is "
                                  f"{limits.replicates:,} ({ALLOW_LARGE_HINT})"))
    n = spec.search.num_trials
    if n is not None and n * spec.replicates > limits.trials:
        out.append(("search.num_trials", f"{n:,} configurations x {spec.replicates} "
                                         f"replicate(s) = {n * spec.replicates:,} trials; the cap "
                                         f"is {limits.trials:,} ({ALLOW_LARGE_HINT})"))
    if spec.search.algorithm == GRID:
        counts = {k: len(p.grid or p.choice or []) for k, p in spec.space.items()}
        product = math.prod(counts.values())
        if product > limits.grid_product:
            factors = " x ".join(f"{c} ({k})" for k, c in counts.items())
            out.append(("space", f"the grid has up to {product:,} points ({factors}); the cap "
                                 f"is {limits.grid_product:,}"
                                 + (f" ({ALLOW_LARGE_HINT})"
                                    if limits.grid_product < HARD_GRID_PRODUCT else
                                    " (split the sweep into several files)")))
    return out


def grid_count_problems(spec: SweepSpec, num_points: int,
                        limits: Limits = DEFAULT) -> list[tuple[str, str]]:
    """(key, message) for the number of distinct grid points and the trials they make."""
    out = []
    if num_points > limits.grid_points:
        out.append(("space", f"more than {limits.grid_points:,} grid points (the cap; "
                             f"{ALLOW_LARGE_HINT})"))
    elif num_points * spec.replicates > limits.trials:
        out.append(("replicates", f"{num_points:,} grid points x {spec.replicates} replicates = "
                                  f"{num_points * spec.replicates:,} trials; the cap is "
                                  f"{limits.trials:,} ({ALLOW_LARGE_HINT})"))
    return out


def budget_problems(cfg: TrialConfig, limits: Limits = DEFAULT) -> list[tuple[str, str]]:
    """(dotted key, message) for every per-trial budget of `cfg` above its cap."""
    out: list[tuple[str, str]] = []

    def cap(key: str, value: Any, limit: float, what: str) -> None:
        if value is not None and value > limit:
            out.append((key, f"{key} = {_num(value)} {what}; the cap is {_num(limit)} "
                             f"({ALLOW_LARGE_HINT})"))

    m = cfg.method
    kimg = cfg.total_kimg
    own_budget = type(m).budget_kimg is not MethodSpecBase.budget_kimg  # e.g. SFBD's phases
    kimg_key = "method" if own_budget else "train.kimg"
    if kimg > limits.kimg:
        out.append((kimg_key, f"{_num(kimg)} kimg of training per trial; the cap is "
                              f"{_num(limits.kimg)} ({ALLOW_LARGE_HINT})"))
    cap("eval.num_samples", cfg.eval.num_samples, limits.num_samples, "samples per evaluation")
    cap("data.resolution", cfg.data.resolution, limits.resolution, "pixels")
    cap("train.batch_size", cfg.train.batch_size, limits.batch_size, "images per step")
    cap("model.channels", cfg.model.channels, limits.channels, "channels")
    cap("model.num_blocks", cfg.model.num_blocks, limits.num_blocks, "blocks per level")
    cap("model.emb_dim", cfg.model.emb_dim, limits.emb_dim, "embedding width")
    cap("model.mlp_hidden", cfg.model.mlp_hidden, limits.mlp_hidden, "hidden units")
    cap("model.mlp_layers", cfg.model.mlp_layers, limits.mlp_layers, "layers")
    cap("sampler.steps", cfg.sampler.steps, limits.sampler_steps, "sampling steps")
    cap("eval.gallery_size", cfg.eval.gallery_size, limits.gallery_size, "gallery images")
    mult = cfg.model.channel_mult
    if len(mult) > limits.levels:
        out.append(("model.channel_mult", f"model.channel_mult has {len(mult)} levels; the cap "
                                          f"is {limits.levels} ({ALLOW_LARGE_HINT})"))
    cap("model.channel_mult", max(mult, default=0), limits.channel_mult, "(largest multiplier)")
    cap("method.rounds", getattr(m, "rounds", None), limits.sfbd_rounds, "rounds")
    cap("method.denoise_steps", getattr(m, "denoise_steps", None), limits.sampler_steps,
        "denoising steps")
    if out and out[0][0] == kimg_key:
        return out  # the cadences below would only repeat that the budget is too long
    for key, every, limit, what in (
        ("eval.every_kimg", cfg.eval.every_kimg, limits.evaluations, "evaluations"),
        ("train.log_every_kimg", cfg.train.log_every_kimg, limits.loss_logs, "loss reports"),
        ("train.checkpoint_every_kimg", cfg.train.checkpoint_every_kimg, limits.checkpoints,
         "checkpoints"),
    ):
        if every is not None and kimg / every > limit:
            out.append((key, f"{key} = {every:g} gives {kimg / every:,.0f} {what} per trial of "
                             f"{_num(kimg)} kimg; the cap is {_num(limit)} ({ALLOW_LARGE_HINT})"))
    return out


def _num(v: float) -> str:
    """1,000,000 rather than 1e+06; 0.5 stays 0.5."""
    return f"{v:,.0f}" if abs(v) >= 1000 and float(v).is_integer() else f"{v:,g}"


def limits_for(allow_large: bool) -> Limits:
    """The default caps, or (``--allow-large``) none but the hard grid enumeration cap."""
    if not allow_large:
        return DEFAULT
    inf = math.inf
    return Limits(trials=inf, replicates=inf, grid_points=inf,  # type: ignore[arg-type]
                  grid_product=HARD_GRID_PRODUCT, kimg=inf, num_samples=inf, resolution=inf,
                  evaluations=inf, loss_logs=inf, checkpoints=inf, batch_size=inf,
                  channels=inf, levels=inf, channel_mult=inf, num_blocks=inf, emb_dim=inf,
                  mlp_hidden=inf, mlp_layers=inf, sampler_steps=inf, sfbd_rounds=inf,
                  gallery_size=inf)
