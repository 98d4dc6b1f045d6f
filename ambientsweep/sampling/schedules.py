"""Noise-level grids for the samplers; a grid is a plain tensor, so truncation is a slice."""

from __future__ import annotations

import torch
from torch import Tensor


def karras_sigmas(
    n: int,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """[n+1] float64 grid, Karras et al. 2022 Eq. 5: sigma_max down to sigma_min, then 0."""
    if n < 2:
        raise ValueError(f"a Karras grid needs at least 2 points, got {n}")
    ramp = torch.linspace(0.0, 1.0, n, dtype=torch.float64, device=device)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def truncate(sigmas: Tensor, start: float) -> Tensor:
    """The grid points strictly below `start`, with `start` itself prepended (SFBD backward step).

    The result starts exactly at `start` and ends with the grid's final 0.
    """
    if not start > 0:
        raise ValueError(f"truncate needs a positive start noise level, got {start}")
    below = sigmas[sigmas < start]
    return torch.cat([below.new_full((1,), float(start)), below])
