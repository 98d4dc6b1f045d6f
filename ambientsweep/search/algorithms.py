"""The search algorithms and Optuna samplers a sweep may name: the one list of each.

The spec schema (``search.algorithm``, ``search.sampler``), its error messages and the searcher
factories (:func:`ambientsweep.search.searchers.build_search`,
:func:`ambientsweep.search.space.optuna_sampler`) all read these. Plain names, no imports, so
the spec stays light.
"""

from __future__ import annotations

GRID = "grid"  # every point of the cross product (Ray's grid_search)
RANDOM = "random"  # Optuna's RandomSampler over the space
OPTUNA = "optuna"  # Optuna with `search.sampler`

ALGORITHMS: tuple[str, ...] = (GRID, RANDOM, OPTUNA)
OPTUNA_SAMPLERS: tuple[str, ...] = ("tpe", "nsga2", "gp", "random")


def sampler_name(algorithm: str, sampler: str) -> str:
    """The Optuna sampler that runs `algorithm` (`random` for algorithm random)."""
    if algorithm == GRID:
        raise ValueError("grid search uses no Optuna sampler")
    return "random" if algorithm == RANDOM else sampler
