"""Multi-objective successive halving, the Ray-free part: rank configurations at a rung.

The rule is MOASHA's (Schmucker, Donini, Zafar, Salinas, Archambeau 2021, "Multi-objective
Asynchronous Successive Halving", arXiv 2106.12639, Alg. 1): asynchronous successive halving
(Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning", ASHA) in which a
configuration that reaches a rung is compared, on all objectives at once, with every
configuration recorded at that rung so far, and goes on only if it ranks in the top
``1/reduction_factor`` of them.

Ranking (the order of :func:`rank`):

1. **Non-dominated sorting** (Deb, Pratap, Agarwal, Meyarivan 2002, "A fast and elitist
   multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), §III-A): front 1 = the points no
   other point dominates, front k+1 = those of the rest no remaining point dominates.
2. **Ties within a front: crowding distance, larger first** (same paper, §III-B): for each
   objective sort the front, give both boundary points an infinite distance and every interior
   point the gap between its two neighbours divided by the front's range of that objective;
   sum over objectives. A point in a sparse part of the front ranks before one in a crowded part,
   so the promoted set spreads along the front instead of clustering. (Syne Tune's MOASHA breaks
   ties with the ε-net of Schmucker et al. instead; the crowding distance was chosen here because
   it is deterministic and needs no ε.)
3. Remaining ties (equal distances, e.g. the boundary points, which are all infinite): the
   configuration key, ascending, so a decision never depends on arrival order within a rung.

Promotion: a configuration reaching a rung where ``n`` configurations (itself included) are
recorded goes on iff its position in the ranking is below ``max(1, ceil(n / reduction_factor))``
(the first arrival at a rung always goes on, as in Ray's ASHA).

**Decisions are per configuration.** With ``replicates`` trials per configuration, the value of
a configuration at a rung is the mean over its replicates of each objective at the first result
at or past the rung; it is recorded, and the configuration is decided, once *every* replicate
has reached the rung. Until then its replicates go on. If it is stopped, every replicate still
running is stopped at its next result (a replicate is never stopped alone). A configuration that
already has a replicate at its full budget when it is decided goes on (a full-budget trial cannot
be stopped, so the configuration is never split).

The time axis is each trial's own **fraction of its budget** (0..1]: rungs are fractions, so
configurations of different budgets are compared at the same relative progress. A result at the
full budget (fraction >= 1) is recorded but never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONTINUE, STOP = "continue", "stop"
FULL = 1.0 - 1e-9  # a fraction at or above this is the full budget


def _minimised(values: Sequence[float], modes: Sequence[str]) -> tuple[float, ...]:
    """Objective vector turned into a minimisation; NaN (not measured) becomes +inf (worst)."""
    out = []
    for v, m in zip(values, modes, strict=True):
        v = float(v)
        v = math.inf if math.isnan(v) else (v if m == "min" else -v)
        out.append(v)
    return tuple(out)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a dominates b (both minimised): no worse everywhere and strictly better somewhere."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True))


def non_dominated_fronts(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Indices of minimised ``points`` grouped in fronts, best first (Deb et al. 2002, §III-A).

    Equal points do not dominate each other, so copies share a front.
    """
    n = len(points)
    dominated_by = [0] * n  # how many points dominate i
    dominating: list[list[int]] = [[] for _ in range(n)]  # the points i dominates
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominating[i].append(j)
                dominated_by[j] += 1
            elif dominates(points[j], points[i]):
                dominating[j].append(i)
                dominated_by[i] += 1
    fronts: list[list[int]] = []
    current = [i for i in range(n) if dominated_by[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominating[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    nxt.append(j)
        current = sorted(nxt)
    return fronts


def crowding_distance(points: Sequence[Sequence[float]], front: Sequence[int]) -> dict[int, float]:
    """Crowding distance of each index of one front (Deb et al. 2002, §III-B).

    For each objective m, with the front sorted by f_m: the two boundary points get infinity,
    an interior point i gets ``(f_m[next] - f_m[prev]) / (f_m^max - f_m^min)``; summed over m.
    An objective on which the whole front is equal adds nothing. Infinite values (an objective
    not measured) make the range infinite and add nothing either.
    """
    dist = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for m in range(len(points[front[0]])):
        order = sorted(front, key=lambda i: (points[i][m], i))
        lo, hi = points[order[0]][m], points[order[-1]][m]
        dist[order[0]] = dist[order[-1]] = math.inf
        span = hi - lo
        if span <= 0 or not math.isfinite(span):
            continue
        for k in range(1, len(order) - 1):
            dist[order[k]] += (points[order[k + 1]][m] - points[order[k - 1]][m]) / span
    return dist


def rank(vectors: Mapping[str, Sequence[float]], modes: Sequence[str]) -> list[str]:
    """Configuration keys ordered best first: front, then crowding distance (larger first),
    then key."""
    keys = sorted(vectors)
    pts = [_minimised(vectors[k], modes) for k in keys]
    order: list[str] = []
    for front in non_dominated_fronts(pts):
        dist = crowding_distance(pts, front)
        order.extend(keys[i] for i in sorted(front, key=lambda i: (-dist[i], keys[i])))
    return order


def keep_count(n: int, reduction_factor: float) -> int:
    """How many of ``n`` configurations recorded at a rung are in its top 1/reduction_factor."""
    return max(1, math.ceil(n / reduction_factor))


def rungs_from(grace: float, reduction_factor: float) -> list[float]:
    """Rung fractions grace, grace*eta, grace*eta^2, ... strictly below the full budget."""
    if not 0 < grace < 1:
        raise ValueError(f"grace must be a fraction of the budget in (0, 1), got {grace}")
    out, r = [], grace
    while r < FULL:
        out.append(r)
        r *= reduction_factor
    return out


@dataclass(frozen=True)
class Decision:
    """Why a configuration was stopped or promoted at a rung (kept for the report/benchmark)."""

    key: str
    rung: float
    action: str  # CONTINUE or STOP
    position: int  # 0-based position in the rung's ranking when decided
    recorded: int  # configurations recorded at the rung, itself included
    values: tuple[float, ...]  # its replicate mean at the rung


@dataclass
class MultiObjectiveRungs:
    """The bookkeeping of MOASHA for one sweep: per-configuration decisions at each rung."""

    rungs: Sequence[float]  # increasing fractions of the budget, each in (0, 1)
    reduction_factor: float
    modes: Sequence[Literal["min", "max"]]
    replicates: int = 1
    recorded: list[dict[str, tuple[float, ...]]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    stopped: dict[str, float] = field(default_factory=dict)  # key -> rung it was stopped at
    _pending: dict[tuple[str, int], dict[int, tuple[float, ...]]] = field(default_factory=dict)
    _full: dict[str, set[int]] = field(default_factory=dict)  # replicates at the full budget

    def __post_init__(self) -> None:
        rungs = [float(r) for r in self.rungs]
        if any(not 0 < r < 1 for r in rungs) or rungs != sorted(set(rungs)):
            raise ValueError(f"rungs must be increasing fractions in (0, 1), got {rungs}")
        if self.reduction_factor <= 1:
            raise ValueError(f"reduction_factor must be > 1, got {self.reduction_factor}")
        self.rungs = rungs
        if not self.recorded:
            self.recorded = [{} for _ in rungs]

    def on_result(self, key: str, replicate: int, fraction: float,
                  values: Sequence[float]) -> str:
        """The action for replicate ``replicate`` of configuration ``key`` after a result at
        ``fraction`` of its budget carrying the objective ``values`` (in ``modes`` order)."""
        full = fraction >= FULL
        if full:
            self._full.setdefault(key, set()).add(replicate)
        if key in self.stopped:
            return CONTINUE if full else STOP
        vec = tuple(float(v) for v in values)
        action = CONTINUE
        for i, rung in enumerate(self.rungs):
            if fraction < rung - 1e-9 or key in self.recorded[i]:
                continue
            pend = self._pending.setdefault((key, i), {})
            if replicate in pend:
                continue
            pend[replicate] = vec  # the first result at or past the rung
            if len(pend) < self.replicates:
                continue  # decided once every replicate has reached the rung
            del self._pending[(key, i)]
            if self._decide(key, i, pend) == STOP:
                action = STOP
                break
        return CONTINUE if full else action

    def _decide(self, key: str, i: int, per_rep: dict[int, tuple[float, ...]]) -> str:
        n_obj = len(self.modes)
        mean = tuple(sum(v[m] for v in per_rep.values()) / len(per_rep) for m in range(n_obj))
        table = self.recorded[i]
        table[key] = mean
        order = rank(table, self.modes)
        pos = order.index(key)
        keep = pos < keep_count(len(table), self.reduction_factor) or bool(self._full.get(key))
        action = CONTINUE if keep else STOP
        self.decisions.append(Decision(key, self.rungs[i], action, pos, len(table), mean))
        if action == STOP:
            self.stopped[key] = self.rungs[i]
        return action
