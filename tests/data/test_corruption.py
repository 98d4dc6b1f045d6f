"""Masks and noise are frozen per image id, independent of the batch, and have the right law."""

from __future__ import annotations

import torch

from ambientsweep.data import erase_mask, gaussian_noise


def test_mask_frozen_per_image_and_independent_of_subset() -> None:
    ids = torch.tensor([5, 17, 3, 900])
    full = erase_mask(ids, (8, 8), 0.4, seed=1, replicate=0)
    assert full.shape == (4, 1, 8, 8) and set(full.unique().tolist()) <= {0.0, 1.0}
    again = erase_mask(ids, (8, 8), 0.4, seed=1, replicate=0)
    assert torch.equal(full, again)
    alone = erase_mask(torch.tensor([3]), (8, 8), 0.4, seed=1, replicate=0)
    assert torch.equal(alone[0], full[2])
    reordered = erase_mask(ids.flip(0), (8, 8), 0.4, seed=1, replicate=0)
    assert torch.equal(reordered.flip(0), full)


def test_mask_keys() -> None:
    ids = torch.arange(10)
    base = erase_mask(ids, (8, 8), 0.5, seed=0, replicate=0)
    for kwargs in ({"seed": 1, "replicate": 0}, {"seed": 0, "replicate": 1}):
        assert not torch.equal(base, erase_mask(ids, (8, 8), 0.5, **kwargs))
    assert not torch.equal(base, erase_mask(ids, (8, 8), 0.5, seed=0, replicate=0, salt="B"))


def test_mask_erase_rate() -> None:
    for p in (0.0, 0.2, 0.8):
        mask = erase_mask(torch.arange(2000), (8, 8), p, seed=0, replicate=0)
        erased = 1.0 - mask.mean().item()
        assert abs(erased - p) < 0.01  # 128k pixels: std of the rate < 0.0015


def test_noise_frozen_per_image_and_standard_normal() -> None:
    ids = torch.arange(2000)
    noise = gaussian_noise(ids, (3, 8, 8), seed=0, replicate=0)
    assert noise.shape == (2000, 3, 8, 8)
    assert abs(noise.mean().item()) < 0.01 and abs(noise.std().item() - 1) < 0.01
    part = gaussian_noise(torch.tensor([1999, 7]), (3, 8, 8), seed=0, replicate=0)
    assert torch.equal(part[0], noise[1999]) and torch.equal(part[1], noise[7])
    other = gaussian_noise(torch.tensor([7]), (3, 8, 8), seed=0, replicate=0, salt="other")
    assert not torch.equal(other[0], noise[7])
