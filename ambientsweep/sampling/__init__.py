"""Sigma grids (schedules) and the solvers that run on any grid."""

from ambientsweep.sampling.schedules import karras_sigmas, truncate
from ambientsweep.sampling.solvers import SOLVERS, euler, heun, randn, sample_from_config

__all__ = ["SOLVERS", "euler", "heun", "karras_sigmas", "randn", "sample_from_config", "truncate"]
