"""Memorization of the training set by generated samples: exact nearest neighbours.

Two tests, run against the clean originals of the training images:

- Ratio test (Yoon et al. 2023, "Diffusion probabilistic models generalize when they fail to
  memorize"; Gu et al. 2023, "On memorization in diffusion models"): a sample x is memorized
  when ``|x - NN1(x)| < t |x - NN2(x)|`` with NN1, NN2 its nearest and second-nearest training
  images in L2 and ``t = 1/3``. We report the fraction memorized, the number of distinct
  training images those samples copy, and the median of d1/d2. A sample with ``d1 == 0`` is an
  exact copy and counts as memorized even when the training set holds a duplicate (``d2 == 0``).
- Top-1 cosine similarity (Somepalli et al. 2023, "Diffusion art or digital forgery?" and
  "Understanding and mitigating copying in diffusion models"): for each sample the largest
  cosine similarity to any training image; we report its 95th percentile (Sim95pc) and the
  fraction above a threshold.

Neighbour search is exact and chunked (at most ``query_chunk x key_chunk`` distances at once,
never the full N x M matrix): a float32 pass with ``|a|^2 - 2ab + |b|^2`` keeps ``k + margin``
candidates per sample, then their distances are recomputed in float64 from the differences and
sorted by (distance, training index). Results are exact with ties broken by the lowest
training index, unless more than ``k + margin`` training images lie within float32 rounding of
the k-th distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["MemorizationReport", "Neighbours", "memorization", "nearest_neighbours"]


@dataclass(frozen=True)
class Neighbours:
    """The k nearest training vectors of each query, nearest first."""

    distance: Tensor  # [n, k] float64 L2 distances (inf where fewer than k keys)
    index: Tensor  # [n, k] int64 key rows (-1 where fewer than k keys)


def nearest_neighbours(
    queries: Tensor,
    keys: Tensor,
    k: int = 2,
    *,
    device: torch.device | str | None = None,
    query_chunk: int = 1024,
    key_chunk: int = 16384,
    margin: int = 8,
) -> Neighbours:
    """Exact k nearest neighbours in L2 of each query among the keys (rows, any trailing shape).

    Args:
        queries: ``[n, ...]`` vectors to look up.
        keys: ``[m, ...]`` vectors to search.
        k: neighbours per query.
        device: where to compute (default: the queries' device); results come back on the CPU.
        query_chunk: queries per block.
        key_chunk: keys per block.
        margin: extra float32 candidates kept per query for the exact float64 re-ranking.
    """
    q_all = queries.reshape(len(queries), -1)
    k_all = keys.reshape(len(keys), -1)
    if q_all.shape[1] != k_all.shape[1]:
        raise ValueError(f"dimensions differ: queries {q_all.shape[1]}, keys {k_all.shape[1]}")
    n, m = len(q_all), len(k_all)
    dev = torch.device(device) if device is not None else q_all.device
    distance = torch.full((n, k), float("inf"), dtype=torch.float64)
    index = torch.full((n, k), -1, dtype=torch.int64)
    if n == 0 or m == 0:
        return Neighbours(distance, index)

    keep = min(k + margin, m)
    keys32 = k_all.to(dev, torch.float32)
    keys_sq = keys32.square().sum(1)
    # bound the float64 re-ranking block to about 2^24 numbers
    q_step = max(1, min(query_chunk, (1 << 24) // (keep * q_all.shape[1])))
    for start in range(0, n, q_step):
        q32 = q_all[start : start + q_step].to(dev, torch.float32)
        cand = _candidates(q32, keys32, keys_sq, keep, key_chunk)
        q64 = q_all[start : start + q_step].to(dev, torch.float64)
        near = k_all[cand.to(k_all.device)].to(dev, torch.float64)
        exact = (q64[:, None, :] - near).square().sum(-1).sqrt()
        by_index, order = cand.sort(dim=1)  # then a stable sort by distance: ties -> lowest index
        exact = exact.gather(1, order)
        exact, order = exact.sort(dim=1, stable=True)
        by_index = by_index.gather(1, order)
        top = min(k, keep)
        distance[start : start + q_step, :top] = exact[:, :top].cpu()
        index[start : start + q_step, :top] = by_index[:, :top].cpu()
    return Neighbours(distance, index)


def _candidates(q32: Tensor, keys32: Tensor, keys_sq: Tensor, keep: int, key_chunk: int) -> Tensor:
    """Rows of the ``keep`` nearest keys per query by the float32 expansion, blockwise."""
    q_sq = q32.square().sum(1, keepdim=True)
    best_val: Tensor | None = None
    best_idx: Tensor | None = None
    for start in range(0, len(keys32), key_chunk):
        block = keys32[start : start + key_chunk]
        d2 = torch.addmm(keys_sq[start : start + key_chunk], q32, block.T, alpha=-2.0).add_(q_sq)
        val, idx = d2.topk(min(keep, len(block)), dim=1, largest=False)
        idx += start
        if best_val is None or best_idx is None:
            best_val, best_idx = val, idx
            continue
        val = torch.cat([best_val, val], 1)
        idx = torch.cat([best_idx, idx], 1)
        best_val, pos = val.topk(min(keep, val.shape[1]), dim=1, largest=False)
        best_idx = idx.gather(1, pos)
    assert best_idx is not None
    return best_idx


@dataclass(frozen=True)
class MemorizationReport:
    """Per-sample results and summaries of both memorization tests in one space."""

    d1: np.ndarray  # [n] distance to the nearest training image
    d2: np.ndarray  # [n] distance to the second-nearest training image
    nn1: np.ndarray  # [n] int training row of NN1
    nn2: np.ndarray  # [n] int training row of NN2
    memorized: np.ndarray  # [n] bool, ratio test
    top1_sim: np.ndarray  # [n] largest cosine similarity to any training image
    top1_index: np.ndarray  # [n] int training row that attains it
    fraction: float  # share of samples memorized (mem_ratio_*)
    unique: int  # distinct training rows copied by memorized samples (mem_unique_*)
    d1d2_median: float  # median of d1/d2 (mem_d1d2_median_*)
    sim_p95: float  # 95th percentile of top1_sim (mem_sim_p95_*)
    sim_frac: float  # share of samples with top1_sim > sim_threshold (mem_sim_frac_*)

    @property
    def ratio(self) -> np.ndarray:
        """d1/d2 per sample (0 for exact copies of a duplicated training image)."""
        return np.divide(self.d1, self.d2, out=np.zeros_like(self.d1), where=self.d2 > 0)


def memorization(
    samples: Tensor,
    train: Tensor,
    *,
    ratio_threshold: float = 1 / 3,
    sim_threshold: float = 0.95,
    sim_shift: float = 0.0,
    device: torch.device | str | None = None,
) -> MemorizationReport:
    """Ratio test and top-1 cosine similarity of ``samples`` against ``train``.

    Args:
        samples: ``[n, ...]`` generated images or their features.
        train: ``[m, ...]`` training images (clean originals) or their features, ``m >= 2``.
        ratio_threshold: ``t`` of the ratio test ``d1 < t * d2``.
        sim_threshold: ``mem_sim_frac`` counts top-1 similarities above this.
        sim_shift: added to both sets before the cosine similarity only (pixels in [-1, 1]
            use 1.0, so the background is 0 and does not dominate the angle).
        device: where to compute.
    """
    if len(train) < 2:
        raise ValueError("the ratio test needs at least 2 training images")
    l2 = nearest_neighbours(samples, train, k=2, device=device)
    d1, d2 = l2.distance[:, 0].numpy(), l2.distance[:, 1].numpy()
    nn1, nn2 = l2.index[:, 0].numpy(), l2.index[:, 1].numpy()
    memorized = (d1 < ratio_threshold * d2) | (d1 == 0.0)

    flat_s = samples.reshape(len(samples), -1).double() + sim_shift
    flat_t = train.reshape(len(train), -1).double() + sim_shift
    unit_s = torch.nn.functional.normalize(flat_s, dim=1)
    unit_t = torch.nn.functional.normalize(flat_t, dim=1)
    cos = nearest_neighbours(unit_s, unit_t, k=1, device=device)  # max cosine = min chord
    top1_sim = (1.0 - cos.distance[:, 0].square() / 2.0).clamp(-1.0, 1.0).numpy()

    ratio = np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)
    return MemorizationReport(
        d1=d1,
        d2=d2,
        nn1=nn1,
        nn2=nn2,
        memorized=memorized,
        top1_sim=top1_sim,
        top1_index=cos.index[:, 0].numpy(),
        fraction=float(memorized.mean()),
        unique=len(np.unique(nn1[memorized])),
        d1d2_median=float(np.median(ratio)),
        sim_p95=float(np.quantile(top1_sim, 0.95)),
        sim_frac=float((top1_sim > sim_threshold).mean()),
    )
