"""Hypervolume per seed: the front of each replicate index alone, then mean ± std over seeds.

The pooled front (``compute_pareto``) averages replicates per configuration first; this asks
instead how much the front itself varies with the seed. Replicate ``r`` of every configuration
forms one sweep-sized set of trials; its front's hypervolume is taken against the reference
point of the pooled front, so every seed is measured against the same corner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ambientsweep.analysis.aggregate import compute_pareto, split_sweeps
from ambientsweep.analysis.pareto import ObjectiveLike


def hypervolume_per_seed(frames: Mapping[str, pd.DataFrame] | pd.DataFrame,
                         objectives: Sequence[ObjectiveLike]) -> pd.DataFrame:
    """One row per sweep and replicate index: ``sweep, replicate, hypervolume``."""
    tables = split_sweeps(frames)
    pooled = compute_pareto(tables, objectives)
    fixed = [(o.name, o.direction, float(r))
             for o, r in zip(pooled.objectives, pooled.reference, strict=True)]
    rows = []
    for sweep, df in tables.items():
        for r, part in df.groupby("replicate", sort=True):
            info = compute_pareto({sweep: part}, fixed)
            rows.append({"sweep": sweep, "replicate": int(r),
                         "hypervolume": float(info.hypervolumes[sweep])})
    return pd.DataFrame(rows, columns=["sweep", "replicate", "hypervolume"])


def hypervolume_summary(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Per sweep: ``n`` seeds, ``hypervolume`` mean and ``hypervolume.std`` (ddof = 1)."""
    rows = []
    for sweep, grp in per_seed.groupby("sweep", sort=False):
        v = grp["hypervolume"].to_numpy(float)
        v = v[np.isfinite(v)]
        rows.append({"sweep": sweep, "n": int(v.size),
                     "hypervolume": float(v.mean()) if v.size else float("nan"),
                     "hypervolume.std": float(v.std(ddof=1)) if v.size > 1 else float("nan")})
    return pd.DataFrame(rows)


__all__ = ["hypervolume_per_seed", "hypervolume_summary"]
