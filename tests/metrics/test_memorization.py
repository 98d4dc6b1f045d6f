"""Exact chunked nearest neighbours, the ratio test and top-1 cosine similarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ambientsweep.metrics.memorization import memorization, nearest_neighbours


def _brute(q: torch.Tensor, k: torch.Tensor, top: int) -> tuple[torch.Tensor, torch.Tensor]:
    d = (q.double()[:, None, :] - k.double()[None, :, :]).square().sum(-1).sqrt()
    ids = torch.arange(len(k)).expand_as(d)
    order = np.lexsort((ids.numpy(), d.numpy()), axis=1)[:, :top]  # by distance, then index
    order_t = torch.from_numpy(order)
    return d.gather(1, order_t), order_t


@pytest.mark.parametrize(("q_chunk", "k_chunk"), [(7, 33), (1024, 16384), (1, 5)])
def test_knn_matches_brute_force_with_ties(q_chunk: int, k_chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    keys = torch.randint(-2, 3, (300, 6), generator=g).float()  # many exact ties
    keys[40] = keys[250] = keys[7]  # triplicate
    queries = torch.cat([torch.randn(60, 6, generator=g), keys[[7, 3, 299]]])
    nb = nearest_neighbours(queries, keys, k=3, query_chunk=q_chunk, key_chunk=k_chunk)
    dist, idx = _brute(queries, keys, 3)
    assert torch.equal(nb.index, idx)
    assert torch.allclose(nb.distance, dist, rtol=0, atol=1e-12)
    assert nb.index[60].tolist() == [7, 40, 250] and nb.distance[60].tolist() == [0, 0, 0]


def test_knn_fewer_keys_than_k() -> None:
    nb = nearest_neighbours(torch.zeros(2, 3), torch.ones(1, 3), k=2)
    assert nb.index[:, 1].tolist() == [-1, -1] and torch.isinf(nb.distance[:, 1]).all()


def test_ratio_test_flags_copies_not_fresh_images() -> None:
    g = torch.Generator().manual_seed(1)
    train = torch.rand(100, 1, 8, 8, generator=g) * 2 - 1
    fresh = torch.rand(20, 1, 8, 8, generator=g) * 2 - 1
    near_copy = train[:5] + 0.01 * torch.randn(5, 1, 8, 8, generator=g)
    samples = torch.cat([train[10:15], near_copy, fresh])
    rep = memorization(samples, train, ratio_threshold=1 / 3, sim_threshold=0.95)
    assert rep.memorized[:10].all() and not rep.memorized[10:].any()
    assert rep.fraction == pytest.approx(10 / 30)
    assert rep.unique == 10
    assert rep.nn1[:5].tolist() == list(range(10, 15))
    assert np.allclose(rep.top1_sim[:5], 1.0) and rep.top1_index[:5].tolist() == list(
        range(10, 15)
    )
    assert (rep.top1_sim[10:] < 0.95).all()


def test_exact_copy_of_duplicated_training_image_is_memorized() -> None:
    train = torch.stack([torch.zeros(4), torch.zeros(4), torch.ones(4)])
    rep = memorization(train[:1], train)
    assert rep.d1[0] == 0 and rep.d2[0] == 0 and bool(rep.memorized[0]) and rep.unique == 1


def test_top1_cosine_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(50, 10, generator=g), torch.randn(80, 10, generator=g)
    rep = memorization(s, t, sim_threshold=0.5)
    cos = (
        torch.nn.functional.normalize(s.double(), dim=1)
        @ torch.nn.functional.normalize(t.double(), dim=1).T
    )
    assert np.allclose(rep.top1_sim, cos.max(1).values.numpy(), atol=1e-10)
    assert rep.sim_p95 == pytest.approx(np.quantile(cos.max(1).values.numpy(), 0.95), abs=1e-10)
    assert rep.sim_frac == pytest.approx(float((cos.max(1).values > 0.5).double().mean()))
