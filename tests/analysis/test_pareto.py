"""Non-dominated masks and hypervolumes against independent brute-force computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ambientsweep.analysis.pareto import (
    default_reference,
    hypervolume,
    hypervolume_2d,
    non_dominated_mask,
)


def brute_force_front(
    points: np.ndarray, directions: list[str], eligible: np.ndarray
) -> np.ndarray:
    """O(N^2) definition: eligible, finite, and no other eligible finite row dominates it."""
    n = len(points)

    def better_eq(a: float, b: float, d: str) -> bool:
        return a <= b if d == "min" else a >= b

    def strictly(a: float, b: float, d: str) -> bool:
        return a < b if d == "min" else a > b

    ok = [bool(eligible[i]) and bool(np.isfinite(points[i]).all()) for i in range(n)]
    out = np.zeros(n, dtype=bool)
    for i in range(n):
        if not ok[i]:
            continue
        out[i] = not any(
            ok[j]
            and all(better_eq(points[j, k], points[i, k], d) for k, d in enumerate(directions))
            and any(strictly(points[j, k], points[i, k], d) for k, d in enumerate(directions))
            for j in range(n)
            if j != i
        )
    return out


@pytest.mark.parametrize("seed", range(150))
def test_front_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 40)), int(rng.integers(1, 5))
    points = rng.integers(0, 5, size=(n, m)).astype(float)  # few values -> many ties
    if seed % 3 == 0:
        points[rng.random((n, m)) < 0.05] = np.nan
    if seed % 5 == 0 and n > 2:
        points[1] = points[0]  # exact duplicates
    directions = [str(d) for d in rng.choice(["min", "max"], size=m)]
    eligible = rng.random(n) < 0.8
    got = non_dominated_mask(points, directions, eligible)
    np.testing.assert_array_equal(got, brute_force_front(points, directions, eligible))


def test_ties_duplicates_and_weak_dominance() -> None:
    pts = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 2.0], [0.0, 3.0], [2.0, 1.0]])
    mask = non_dominated_mask(pts, ["min", "min"])
    # Both copies of (1,1) stay; (1,2) and (2,1) are weakly dominated; (0,3) is not dominated.
    assert mask.tolist() == [True, True, False, True, False]


def test_max_direction_flips_dominance() -> None:
    pts = np.array([[1.0, 5.0], [2.0, 4.0], [1.0, 4.0]])
    assert non_dominated_mask(pts, ["min", "max"]).tolist() == [True, False, False]
    assert non_dominated_mask(pts, ["max", "min"]).tolist() == [False, True, False]


def test_ineligible_rows_neither_join_nor_dominate() -> None:
    pts = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [np.nan, 0.0]])
    eligible = np.array([False, True, True, True])  # row 0 (a pruned trial) would dominate all
    assert non_dominated_mask(pts, ["min", "min"], eligible).tolist() == [False, True, True, False]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="directions"):
        non_dominated_mask(np.zeros((3, 2)), ["min"])
    with pytest.raises(ValueError, match="'min' or 'max'"):
        non_dominated_mask(np.zeros((3, 2)), ["min", "lower"])
    assert non_dominated_mask(np.zeros((0, 2)), ["min", "min"]).shape == (0,)


# ----------------------------------------------------------------------------------------------
# Hypervolume.


def grid_hypervolume(points: np.ndarray, directions: list[str], ref: np.ndarray) -> float:
    """Count unit cells of the integer grid that some point dominates (integer inputs only).

    Turned into minimisation, a cell [c, c+1)^M lies in the dominated region of p and below
    the reference exactly when p <= c and c + 1 <= ref in every coordinate."""
    sign = np.array([1 if d == "min" else -1 for d in directions])
    pts, r = points * sign, ref * sign
    lo = pts.min(axis=0) if len(pts) else r
    ranges = [range(int(lo[k]), int(r[k])) for k in range(len(r))]
    count = 0
    for cell in itertools.product(*ranges):
        c = np.array(cell)
        if (pts <= c).all(axis=1).any():
            count += 1
    return float(count)


@pytest.mark.parametrize("seed", range(40))
def test_hypervolume_matches_grid_count(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    m = 2 if seed < 25 else 3
    n = int(rng.integers(1, 12))
    directions = [str(d) for d in rng.choice(["min", "max"], size=m)]
    points = rng.integers(0, 9, size=(n, m)).astype(float)
    # The reference sits inside the range sometimes, so some points lie beyond it.
    ref = np.array([7.0 if d == "min" else 1.0 for d in directions])
    expected = grid_hypervolume(points, directions, ref)
    assert hypervolume(points, directions, ref) == pytest.approx(expected, abs=1e-9)


def test_hypervolume_2d_monte_carlo() -> None:
    rng = np.random.default_rng(7)
    pts = rng.random((25, 2))
    pts[:, 1] = 1.0 - pts[:, 1]  # second objective maximised
    directions, ref = ["min", "max"], np.array([1.1, -0.1])
    exact = hypervolume_2d(pts, directions, ref)
    samples = rng.uniform([0.0, -0.1], [1.1, 1.0], size=(200_000, 2))
    covered = np.zeros(len(samples), dtype=bool)
    for p in pts:  # sample s is dominated by p when p.x <= s.x and p.y >= s.y
        covered |= (p[0] <= samples[:, 0]) & (p[1] >= samples[:, 1])
    mc = covered.mean() * (1.1 * 1.1)
    assert exact == pytest.approx(mc, abs=0.01)


def test_hypervolume_edge_cases() -> None:
    d = ["min", "min"]
    assert hypervolume(np.zeros((0, 2)), d, [1.0, 1.0]) == 0.0
    assert hypervolume(np.array([[2.0, 0.0]]), d, [1.0, 1.0]) == 0.0  # beyond the reference
    assert hypervolume(np.array([[1.0, 0.0]]), d, [1.0, 1.0]) == 0.0  # on its border
    assert hypervolume(np.array([[0.0, 0.0], [0.0, 0.0]]), d, [1.0, 2.0]) == 2.0
    assert hypervolume(np.array([[0.5, np.nan], [0.0, 0.5]]), d, [1.0, 1.0]) == 0.5
    with pytest.raises(ValueError, match="reference"):
        hypervolume(np.zeros((1, 2)), d, [1.0])
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        hypervolume_2d(np.zeros((1, 3)), ["min"] * 3, [1.0] * 3)


def test_default_reference_is_beyond_the_worst_point() -> None:
    pts = np.array([[1.0, 10.0], [3.0, 20.0]])
    ref = default_reference(pts, ["min", "max"])
    np.testing.assert_allclose(ref, [3.2, 9.0])
    assert hypervolume(pts, ["min", "max"], ref) > 0
