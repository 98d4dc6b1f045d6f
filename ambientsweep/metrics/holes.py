"""Do samples show the sampling mask? The "holes" check of Ambient Diffusion's ablation.

Daras et al. (NeurIPS 2023) show that the naive objective (delta = 0: the network is supervised
only on the pixels it sees) never learns to fill erased pixels, so fixed-mask samples keep
artefacts where their mask Ã hides pixels, while delta > 0 gives hole-free samples
(reference/methods.md §2 and §5, claim 3).

We measure this as a contrast ratio. The local contrast of a pixel is its absolute difference
from the mean of its 4 neighbours (edges replicated), averaged over channels:

    c(x)_ij = |x_ij − ¼ (x_{i−1,j} + x_{i+1,j} + x_{i,j−1} + x_{i,j+1})|,

    holes_contrast = mean_{hidden ij} c(x)_ij / mean_{shown ij} c(x)_ij.

The mask is drawn independently of the image, so for samples without mask artefacts the ratio
is about 1 (exactly 1 in expectation for images that do not depend on their mask). Above 1: the
hidden pixels are rougher than the rest (salt-and-pepper holes); below 1: smoother (the network
fills them with a posterior-mean-like blur).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["holes_contrast", "local_contrast"]


def local_contrast(x: Tensor) -> Tensor:
    """|x − mean of the 4 neighbours| per pixel, averaged over channels: ``[n, H, W]``."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    neighbours = (padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
                  + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:]) / 4
    return (x - neighbours).abs().mean(dim=1)


def holes_contrast(samples: Tensor, shown: Tensor) -> float:
    """Mean local contrast at hidden pixels over that at shown pixels (1 = no visible mask).

    Args:
        samples: ``[n, C, H, W]`` images.
        shown: ``[n, 1, H, W]`` (or ``[n, H, W]``) sampling mask, 1 where the network saw the
            pixel and 0 where it had to fill it in.

    Raises:
        ValueError: when the shapes disagree or the mask hides no pixel or shows none.
    """
    mask = shown.reshape(shown.shape[0], *shown.shape[-2:]).to(samples.device).bool()
    if mask.shape != (samples.shape[0], *samples.shape[-2:]):
        raise ValueError(f"mask of shape {tuple(shown.shape)} does not fit samples of shape "
                         f"{tuple(samples.shape)}")
    if mask.all() or not mask.any():
        raise ValueError("holes_contrast needs a mask that hides some pixels and shows some")
    c = local_contrast(samples.float())
    return float(c[~mask].mean() / c[mask].mean().clamp_min(1e-12))
