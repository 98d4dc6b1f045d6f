"""Pareto fronts and hypervolumes on plain arrays (numpy only, no pandas, no plotting).

Conventions:
- ``points`` is ``[N, M]``: N candidates, M objectives; ``directions`` gives ``"min"`` or
  ``"max"`` per objective. Internally every objective is turned into a minimisation by negating
  the ``"max"`` columns, so "a dominates b" means ``a <= b`` everywhere and ``a < b`` somewhere.
- Only eligible rows (``eligible[i]`` true and every value finite) can be on the front, and
  only eligible rows can dominate: a pruned or failed trial never removes a complete one.
- Identical eligible points do not dominate each other, so all copies of a non-dominated point
  stay on the front; a weakly dominated point (equal somewhere, worse elsewhere) does not.
- The hypervolume is the measure of the region dominated by the front and bounded by the
  reference point (worst acceptable value per objective). Points that are not strictly better
  than the reference in every objective add nothing.

Also here: :class:`Objective` (name, direction, reference) and :class:`ParetoInfo`, the frozen
"compute first" result that the plots and the dashboard draw from (style R11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Direction = Literal["min", "max"]

_CHUNK = 512  # rows compared at once in the O(N^2) dominance check (bounds memory)


@dataclass(frozen=True)
class Objective:
    """One objective of a front: a metric key, its direction and an optional reference value."""

    name: str
    direction: Direction = "min"
    ref: float | None = None  # hypervolume reference (worst acceptable); None = derived

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(f"objective {self.name!r}: direction must be 'min' or 'max'")

    @property
    def label(self) -> str:
        """Axis label, e.g. ``"fd_digits_cnn (lower is better)"``."""
        better = "lower" if self.direction == "min" else "higher"
        return f"{self.name} ({better} is better)"


ObjectiveLike = Objective | tuple[str, str] | tuple[str, str, float | None]


def as_objectives(objectives: Sequence[ObjectiveLike]) -> tuple[Objective, ...]:
    """Normalise ``[(name, direction, ref), ...]`` (ref optional) or Objectives to Objectives."""
    out: list[Objective] = []
    for obj in objectives:
        if isinstance(obj, Objective):
            out.append(obj)
            continue
        name, direction, *rest = obj
        ref = rest[0] if rest else None
        out.append(Objective(str(name), direction, None if ref is None else float(ref)))  # type: ignore[arg-type]
    if not out:
        raise ValueError("at least one objective is needed")
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ValueError(f"objectives repeat a metric: {names}")
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Dominance.


def _signs(directions: Sequence[str], m: int) -> np.ndarray:
    if len(directions) != m:
        raise ValueError(f"{len(directions)} directions for {m} objectives")
    bad = [d for d in directions if d not in ("min", "max")]
    if bad:
        raise ValueError(f"directions must be 'min' or 'max', got {bad}")
    return np.array([1.0 if d == "min" else -1.0 for d in directions])


def to_minimisation(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """``points`` with every ``"max"`` column negated, so smaller is better everywhere."""
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2:
        raise ValueError(f"points must be [N, M], got shape {pts.shape}")
    return pts * _signs(directions, pts.shape[1])


def non_dominated_mask(
    points: np.ndarray,
    directions: Sequence[str],
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean ``[N]`` mask of the eligible rows that no other eligible row dominates.

    Args:
        points: ``[N, M]`` objective values.
        directions: ``"min"`` or ``"max"`` per column.
        eligible: ``[N]`` bool; rows that may be on the front (and may dominate). Rows with a
            NaN or infinite value are never eligible. None = all finite rows.
    """
    pts = to_minimisation(points, directions)
    n = pts.shape[0]
    ok = np.isfinite(pts).all(axis=1)
    if eligible is not None:
        elig = np.asarray(eligible, dtype=bool)
        if elig.shape != (n,):
            raise ValueError(f"eligible must have shape ({n},), got {elig.shape}")
        ok &= elig
    mask = np.zeros(n, dtype=bool)
    cand = pts[ok]
    if cand.shape[0] == 0:
        return mask
    dominated = np.zeros(cand.shape[0], dtype=bool)
    for start in range(0, cand.shape[0], _CHUNK):
        block = cand[start : start + _CHUNK]  # [B, M]: is block[b] dominated by some cand[j]?
        le = (cand[None, :, :] <= block[:, None, :]).all(axis=2)  # [B, N']
        lt = (cand[None, :, :] < block[:, None, :]).any(axis=2)
        dominated[start : start + _CHUNK] = (le & lt).any(axis=1)
    mask[np.flatnonzero(ok)] = ~dominated
    return mask


# ----------------------------------------------------------------------------------------------
# Hypervolume.


def default_reference(
    points: np.ndarray, directions: Sequence[str], margin: float = 0.1
) -> np.ndarray:
    """A reference point when the spec gives none: the worst finite value per objective pushed
    ``margin`` of the value range further out (so the worst point still adds volume).

    A constant column is pushed by ``margin * |value|`` (or ``margin`` when the value is 0).
    A column without finite values gives NaN.
    """
    pts = to_minimisation(points, directions)
    ref = np.full(pts.shape[1], np.nan)
    for j in range(pts.shape[1]):
        col = pts[:, j][np.isfinite(pts[:, j])]
        if col.size == 0:
            continue
        span = float(col.max() - col.min())
        if span == 0.0:
            span = abs(float(col.max())) or 1.0
        ref[j] = col.max() + margin * span
    return ref * _signs(directions, pts.shape[1])


def _hv2d_min(pts: np.ndarray, ref: np.ndarray) -> float:
    """2-D hypervolume of minimisation points already strictly inside ``ref``."""
    order = np.lexsort((pts[:, 1], pts[:, 0]))  # by x, then y
    volume, best_y = 0.0, float(ref[1])
    for x, y in pts[order]:
        if y < best_y:
            volume += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(volume)


def _hv_min(pts: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume by slicing along the last objective (fine for small fronts, any M)."""
    m = pts.shape[1]
    if pts.shape[0] == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - pts[:, 0].min())
    if m == 2:
        return _hv2d_min(pts, ref)
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    volume = 0.0
    for i in range(pts.shape[0]):
        upper = pts[i + 1, -1] if i + 1 < pts.shape[0] else ref[-1]
        depth = upper - pts[i, -1]
        if depth > 0:
            # Points 0..i all reach this slab of the last objective.
            sub = pts[: i + 1, :-1]
            sub = sub[non_dominated_mask(sub, ["min"] * (m - 1))]
            volume += depth * _hv_min(sub, ref[:-1])
    return float(volume)


def hypervolume(points: np.ndarray, directions: Sequence[str], ref: Sequence[float]) -> float:
    """Hypervolume dominated by ``points`` and bounded by ``ref`` (directions respected).

    Points that are not strictly better than ``ref`` in every objective contribute nothing;
    NaN rows are ignored. Exact for any number of objectives; the slicing method used for
    M > 2 costs about O(N^(M-1) log N), meant for fronts of a sweep (tens to hundreds).
    """
    pts = to_minimisation(points, directions)
    r = np.asarray(ref, dtype=float)
    if r.shape != (pts.shape[1],) or not np.isfinite(r).all():
        raise ValueError(f"reference point must be {pts.shape[1]} finite values, got {ref}")
    r = r * _signs(directions, pts.shape[1])
    inside = np.isfinite(pts).all(axis=1) & (pts < r).all(axis=1)
    pts = pts[inside]
    pts = pts[non_dominated_mask(pts, ["min"] * pts.shape[1])]
    pts = np.unique(pts, axis=0)
    return _hv_min(pts, r)


def hypervolume_2d(points: np.ndarray, directions: Sequence[str], ref: Sequence[float]) -> float:
    """:func:`hypervolume` for exactly two objectives (checked)."""
    if np.asarray(points).shape[-1] != 2:
        raise ValueError("hypervolume_2d needs [N, 2] points")
    return hypervolume(points, directions, ref)


def front_order(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Indices that walk a 2-D front from the best value of the first objective to the worst
    (the order a step line is drawn in)."""
    pts = to_minimisation(np.asarray(points, dtype=float)[:, :2], list(directions)[:2])
    return np.lexsort((pts[:, 1], pts[:, 0]))


# ----------------------------------------------------------------------------------------------
# What a plot needs (computed by ambientsweep.analysis.aggregate.compute_pareto).


@dataclass(frozen=True, eq=False)
class SeriesInfo:
    """One sweep of a front: its configurations (groups) and its trials.

    Group arrays have length G (one configuration = one ``group_id``, replicates aggregated);
    trial arrays have length N and map to groups through ``trial_group``.
    """

    sweep: str
    group_ids: tuple[str, ...]  # [G]
    points: np.ndarray  # [G, M] mean over replicates
    spread: np.ndarray  # [G, M] std over replicates (ddof=1; 0 for one replicate)
    n_replicates: np.ndarray  # [G] int: trials in the group with finite objectives
    eligible: np.ndarray  # [G] bool: every replicate complete and full-budget
    on_front: np.ndarray  # [G] bool
    params: Mapping[str, np.ndarray]  # swept key (without "param.") -> [G] values
    labels: tuple[str, ...]  # [G] "clean_fraction=0.1, sigma=0.5"
    hypervolume: float  # of this sweep's front against ParetoInfo.reference
    trial_ids: tuple[str, ...]  # [N]
    trial_points: np.ndarray  # [N, M] (NaN where a trial has no value)
    trial_state: tuple[str, ...]  # [N] complete|pruned|failed|running|incomplete
    trial_group: np.ndarray  # [N] int index into the group arrays
    trial_eligible: np.ndarray  # [N] bool
    trial_params: Mapping[str, np.ndarray] = field(default_factory=dict)  # key -> [N]


@dataclass(frozen=True, eq=False)
class ParetoInfo:
    """Everything a figure of one or several sweeps' fronts needs; nothing is recomputed later."""

    objectives: tuple[Objective, ...]
    reference: np.ndarray  # [M] resolved reference point, shared by all series
    series: tuple[SeriesInfo, ...]
    param_names: tuple[str, ...]  # swept keys over all sweeps (without "param."), in order
    color_by: str | None  # swept key the points are coloured by (None = series colour)

    @property
    def directions(self) -> list[Direction]:
        """Direction per objective."""
        return [o.direction for o in self.objectives]

    def front_path(self, series: SeriesInfo) -> np.ndarray:
        """Group indices of ``series``'s front in step-line order (best first objective first)."""
        idx = np.flatnonzero(series.on_front)
        return idx[front_order(series.points[idx], self.directions)]

    @property
    def hypervolumes(self) -> dict[str, float]:
        """Hypervolume per sweep."""
        return {s.sweep: s.hypervolume for s in self.series}
