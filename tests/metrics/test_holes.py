"""holes_contrast: about 1 without mask artefacts, above 1 with holes, below 1 with blur."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ambientsweep.metrics.holes import holes_contrast, local_contrast


def _smooth_images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 1, 8, 8), generator=g)
    kernel = torch.ones(1, 1, 3, 3) / 9
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel).clamp(-1, 1)


def _mask(n: int, keep: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n, 1, 8, 8), generator=g) < keep).float()


def test_local_contrast_by_hand() -> None:
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0  # a lone bright pixel: contrast 1 there, 1/4 at its 4 neighbours
    c = local_contrast(x)[0]
    assert c[1, 1] == 1.0
    assert c[0, 1] == c[1, 0] == c[1, 2] == c[2, 1] == 0.25
    assert c[0, 0] == 0.0  # a corner: its replicated neighbours are 0


def test_mask_independent_images_give_about_one() -> None:
    x, shown = _smooth_images(500), _mask(500, 0.54)
    assert holes_contrast(x, shown) == pytest.approx(1.0, abs=0.05)


def test_salt_and_pepper_at_hidden_pixels_is_above_one() -> None:
    x, shown = _smooth_images(500), _mask(500, 0.54)
    g = torch.Generator().manual_seed(2)
    speckle = torch.where(torch.rand(x.shape, generator=g) < 0.5, -1.0, 1.0)
    holes = torch.where(shown.bool(), x, speckle)
    assert holes_contrast(holes, shown) > 1.5


def test_blurred_fill_is_below_one() -> None:
    x, shown = _smooth_images(500), _mask(500, 0.54)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    blur = (padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
            + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:]) / 4
    filled = torch.where(shown.bool(), x, blur)  # hidden pixels = mean of their neighbours
    assert holes_contrast(filled, shown) < holes_contrast(x, shown) - 0.1


@pytest.mark.parametrize("keep", [0.0, 1.0])
def test_mask_must_hide_and_show_pixels(keep: float) -> None:
    with pytest.raises(ValueError, match="hides some pixels and shows some"):
        holes_contrast(_smooth_images(4), torch.full((4, 1, 8, 8), keep))


def test_mask_shape_must_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        holes_contrast(_smooth_images(4), _mask(3, 0.5))
