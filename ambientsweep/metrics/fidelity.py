"""Fréchet distance and Kernel Inception Distance between two sets of features.

- Fréchet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge
  to a local Nash equilibrium", eq. 6), between Gaussians fitted to the two feature sets:
  ``FD = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))``.
  The value equals clean-fid's ``cleanfid.fid.frechet_distance`` (tested to 1e-6 relative), but
  ``Tr((S1 S2)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of the
  symmetric PSD matrix ``S1^(1/2) S2 S1^(1/2)`` (same spectrum as ``S1 S2``), which stays real
  and finite for the singular covariances of small feature sets (no eps fallback needed); and
  clean-fid passes ``disp=False`` to ``scipy.linalg.sqrtm``, deprecated in SciPy 1.17.
- KID (Binkowski et al. 2018, "Demystifying MMD GANs", sec. 3): the unbiased MMD^2 with the
  cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets, exactly
  as ``cleanfid.fid.kernel_distance`` but with the subsets drawn from a passed-in
  ``numpy.random.Generator`` instead of numpy's global state.

Presets. Digits: 500 samples vs the 500-image reference split in ``digits_cnn`` features (the
default ``EvalConfig``). CIFAR-10 as in the papers (50k samples vs dataset statistics, clean-fid
Inception): ``eval.features: inception``, ``eval.num_samples: 50000`` and a reference split as
large as the data allows (see ``ambientsweep.data.datasets`` for the train-statistics caveat).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

__all__ = ["GaussianStats", "frechet_distance", "gaussian_stats", "kernel_distance"]

_WHOLE_KERNEL_MAX = 2500  # precompute full kernel matrices up to this many features per set


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance of a feature set (float64)."""

    mu: np.ndarray  # [d]
    sigma: np.ndarray  # [d, d]
    count: int


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Mean and unbiased covariance of ``[n, d]`` features (as ``numpy.cov``, rows = samples)."""
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need features [n >= 2, d], got shape {feats.shape}")
    return GaussianStats(feats.mean(axis=0), np.cov(feats, rowvar=False), feats.shape[0])


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between two Gaussians (Heusel et al. 2017, eq. 6)."""
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature dimensions differ: {a.mu.shape} vs {b.mu.shape}")
    diff = a.mu - b.mu
    root_a = _psd_sqrt(a.sigma)
    inner = root_a @ b.sigma @ root_a
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * tr_covmean)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix (negative rounding-level eigenvalues set to 0)."""
    eig, vec = linalg.eigh(sigma)
    return (vec * np.sqrt(np.clip(eig, 0.0, None))) @ vec.T


def kernel_distance(
    feats1: np.ndarray,
    feats2: np.ndarray,
    rng: np.random.Generator,
    *,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
) -> float:
    """KID: unbiased MMD^2, cubic polynomial kernel, mean over subsets (Binkowski et al. 2018).

    Args:
        feats1: ``[n1, d]`` features.
        feats2: ``[n2, d]`` features.
        rng: draws the subsets (size ``min(n1, n2, max_subset_size)``, without replacement).
        num_subsets: how many subsets to average.
        max_subset_size: cap on the subset size.
    """
    x_all = np.asarray(feats2, dtype=np.float64)
    y_all = np.asarray(feats1, dtype=np.float64)
    d = x_all.shape[1]
    m = min(x_all.shape[0], y_all.shape[0], max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 features in each set")
    if m == x_all.shape[0] == y_all.shape[0]:
        num_subsets = 1  # every subset is the whole of both sets: one evaluation is exact

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / d + 1.0) ** 3

    # small sets: the whole kernel matrices once, then each subset indexes into them
    whole = max(x_all.shape[0], y_all.shape[0]) <= _WHOLE_KERNEL_MAX
    if whole:
        k_xx_all, k_yy_all, k_xy_all = (
            kernel(x_all, x_all),
            kernel(y_all, y_all),
            kernel(x_all, y_all),
        )
    total = 0.0
    for _ in range(num_subsets):
        ix = rng.choice(x_all.shape[0], m, replace=False)
        iy = rng.choice(y_all.shape[0], m, replace=False)
        if whole:
            k_xx = k_xx_all[np.ix_(ix, ix)]
            k_yy = k_yy_all[np.ix_(iy, iy)]
            k_xy = k_xy_all[np.ix_(ix, iy)]
        else:
            x, y = x_all[ix], y_all[iy]
            k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m - 1)
        total += within - 2.0 * k_xy.sum() / m
    return float(total / num_subsets / m)
