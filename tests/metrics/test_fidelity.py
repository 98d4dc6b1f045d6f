"""Fréchet distance and KID against independent computations (scipy sqrtm, clean-fid)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from cleanfid import fid as cleanfid
from scipy import linalg

from ambientsweep.metrics.fidelity import frechet_distance, gaussian_stats, kernel_distance


def _scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize(("n", "d", "shift"), [(400, 16, 0.3), (300, 64, 0.0), (1000, 8, 2.0)])
def test_fd_matches_scipy_and_cleanfid(n: int, d: int, shift: float) -> None:
    rng = np.random.default_rng(d)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(n + 50, d)) * 1.5 + shift
    ours = frechet_distance(gaussian_stats(a), gaussian_stats(b))
    assert ours == pytest.approx(_scipy_fd(a, b), rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clean-fid passes scipy's deprecated `disp`
        ref = cleanfid.frechet_distance(
            a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
        )
    assert ours == pytest.approx(ref, rel=1e-6)


def test_fd_identical_is_zero_and_singular_is_finite() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 10))
    assert abs(frechet_distance(gaussian_stats(a), gaussian_stats(a))) < 1e-8
    low_rank = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 40))  # covariance rank 3 of 40
    other = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 40))
    value = frechet_distance(gaussian_stats(low_rank), gaussian_stats(other))
    assert np.isfinite(value) and value > 0


def test_kid_matches_cleanfid_on_full_sets() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(120, 12))
    b = rng.normal(size=(120, 12)) + 0.4
    # subsets as large as both sets are permutations: clean-fid's value is then deterministic
    ref = cleanfid.kernel_distance(a, b, num_subsets=3, max_subset_size=1000)
    ours = kernel_distance(a, b, np.random.default_rng(0))
    assert ours == pytest.approx(ref, rel=1e-6)


def test_kid_subsets_reproducible_and_near_zero_for_same_law() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(300, 8))
    one = kernel_distance(a, b, np.random.default_rng(5), num_subsets=20, max_subset_size=100)
    two = kernel_distance(a, b, np.random.default_rng(5), num_subsets=20, max_subset_size=100)
    assert one == two
    far = kernel_distance(
        a, b + 1.0, np.random.default_rng(5), num_subsets=20, max_subset_size=100
    )
    assert abs(one) < 0.05 < far


def test_kid_whole_kernel_shortcut_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from ambientsweep.metrics import fidelity

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(200, 8)) + 0.2
    fast = kernel_distance(a, b, np.random.default_rng(9), num_subsets=10, max_subset_size=150)
    monkeypatch.setattr(fidelity, "_WHOLE_KERNEL_MAX", 0)
    slow = kernel_distance(a, b, np.random.default_rng(9), num_subsets=10, max_subset_size=150)
    assert fast == pytest.approx(slow, rel=1e-9)
