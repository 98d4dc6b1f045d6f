"""Corruptions frozen per image: pixel erasure masks (Ambient Diffusion) and Gaussian noise.

Every image id gets its own ``torch.Generator`` keyed by ``(kind, seed, replicate, salt, id)``
(``ambientsweep.utils.seeding``), so an image's mask or noise is the same whichever other images
share the batch or the training subset, and the same in every trial of a sweep that shares the
seed and replicate (common random numbers). The papers freeze corruption per image as well:
Daras et al. 2023 draw one mask A per training image, Shah et al. 2025 and Lu et al. 2025 one
noisy copy per image.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ambientsweep.utils.seeding import generator

__all__ = ["erase_mask", "gaussian_noise"]


def _ids(index: Tensor) -> list[int]:
    if index.ndim != 1:
        raise ValueError(
            f"index must be a 1-D tensor of image ids, got shape {tuple(index.shape)}"
        )
    return [int(i) for i in index.tolist()]


def erase_mask(
    index: Tensor,
    shape: tuple[int, int],
    p: float,
    *,
    seed: int,
    replicate: int,
    salt: str = "A",
) -> Tensor:
    """Random inpainting masks A of Daras et al. 2023 (Ambient Diffusion), one per image id.

    Each pixel is erased independently with probability ``p`` and the decision is shared by
    all channels of that pixel.

    Args:
        index: ``[N]`` stable image ids.
        shape: ``(H, W)`` of the images.
        p: erase probability, ``0 <= p < 1``.
        seed: the sweep seed.
        replicate: the seed replicate.
        salt: names the mask (``"A"`` for the dataset mask, e.g. ``"B"`` for a further mask).

    Returns:
        ``[N, 1, H, W]`` float32 in ``{0, 1}``, 1 = observed.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"erase probability p must be in [0, 1), got {p}")
    h, w = shape
    out = torch.empty(len(index), 1, h, w)
    for row, image_id in enumerate(_ids(index)):
        g = generator("erase_mask", seed, replicate, salt, image_id)
        out[row] = (torch.rand(1, h, w, generator=g) >= p).float()
    return out


def gaussian_noise(
    index: Tensor,
    shape: tuple[int, int, int],
    *,
    seed: int,
    replicate: int,
    salt: str = "noise",
) -> Tensor:
    """Standard normal noise frozen per image id; scale it by the noise std where it is used.

    Args:
        index: ``[N]`` stable image ids.
        shape: ``(C, H, W)`` of the images.
        seed: the sweep seed.
        replicate: the seed replicate.
        salt: names the draw, so two independent noises of one image can coexist.

    Returns:
        ``[N, C, H, W]`` float32 draws of N(0, 1).
    """
    out = torch.empty(len(index), *shape)
    for row, image_id in enumerate(_ids(index)):
        g = generator("gaussian_noise", seed, replicate, salt, image_id)
        out[row] = torch.randn(*shape, generator=g)
    return out
