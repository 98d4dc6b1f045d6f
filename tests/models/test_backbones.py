"""UNet / MLP backbones: shapes from 8x8 to 64x64, with and without mask channels."""

from __future__ import annotations

import pytest
import torch

from ambientsweep.config import ModelConfig
from ambientsweep.models import build_backbone, build_denoiser


@pytest.mark.parametrize("resolution", [8, 16, 32, 64])
@pytest.mark.parametrize("extra", [0, 1])
def test_unet_shapes(resolution: int, extra: int) -> None:
    cfg = ModelConfig(channels=8, channel_mult=(1, 2, 2), emb_dim=16)
    net = build_denoiser(cfg, channels=3, resolution=resolution, extra_channels=extra)
    x = torch.randn(2, 3, resolution, resolution)
    cond = torch.ones(2, 1, resolution, resolution) if extra else None
    out = net(x, torch.tensor([0.1, 5.0]), cond)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_default_unet_is_the_calibrated_micro_net() -> None:
    net = build_backbone(ModelConfig(), 1, 1, 8)
    n = sum(p.numel() for p in net.parameters())
    assert 0.4e6 < n < 0.55e6  # calibration.md: 0.47M parameters
    out = net(torch.randn(2, 1, 8, 8), torch.zeros(2))
    assert torch.all(out == 0)  # zero-initialised output conv


def test_num_blocks_and_mlp() -> None:
    unet = build_backbone(ModelConfig(channels=8, num_blocks=2, emb_dim=16), 2, 1, 16)
    assert unet(torch.randn(1, 2, 16, 16), torch.zeros(1)).shape == (1, 1, 16, 16)
    mlp = build_backbone(ModelConfig(backbone="mlp", mlp_hidden=16, mlp_layers=3), 2, 1, 8)
    assert mlp(torch.randn(4, 2, 8, 8), torch.zeros(4)).shape == (4, 1, 8, 8)


def test_resolution_must_fit_the_levels() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        build_backbone(ModelConfig(channel_mult=(1, 2, 2)), 1, 1, 10)
