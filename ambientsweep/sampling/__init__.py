"""Sigma grids (schedules) and the solvers that run on any grid."""

from ambientsweep.sampling.schedules import karras_sigmas, truncate
from ambientsweep.sampling.solvers import (
    SDE_SOLVERS,
    SOLVERS,
    euler,
    euler_maruyama,
    heun,
    randn,
    sample_from_config,
    stochastic_heun,
)

__all__ = [
    "SDE_SOLVERS",
    "SOLVERS",
    "euler",
    "euler_maruyama",
    "heun",
    "karras_sigmas",
    "randn",
    "sample_from_config",
    "stochastic_heun",
    "truncate",
]
