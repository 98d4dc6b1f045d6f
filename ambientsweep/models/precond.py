"""EDM preconditioning around any backbone (Karras et al. 2022, Sec. 5 and Table 1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ambientsweep.config import ModelConfig
from ambientsweep.models.backbones import build_backbone


def edm_scalings(sigma: Tensor, sigma_data: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(c_skip, c_out, c_in, c_noise) of Karras et al. 2022, Table 1 (EDM column)."""
    s2, d2 = sigma**2, sigma_data**2
    c_skip = d2 / (s2 + d2)
    c_out = sigma * sigma_data / (s2 + d2).sqrt()
    c_in = 1.0 / (s2 + d2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class Denoiser(nn.Module):
    """D(x; sigma) = c_skip x + c_out F(c_in x; c_noise) (Karras et al. 2022, Eq. 7).

    ``cond`` (e.g. an Ambient Diffusion mask) is concatenated to the backbone input as
    ``extra_channels`` channels; it is not scaled by ``c_in``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        channels: int,
        resolution: int,
        sigma_data: float = 0.5,
        extra_channels: int = 0,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.channels = channels  # image channels C (what D predicts)
        self.resolution = resolution  # image side H = W
        self.sigma_data = float(sigma_data)
        self.extra_channels = extra_channels

    def forward(self, x: Tensor, sigma: Tensor, cond: Tensor | None = None) -> Tensor:
        """x: [B,C,H,W]; sigma: [B] or a scalar tensor; cond: [B,extra,H,W] or None."""
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
        sigma = sigma.reshape(-1).expand(x.shape[0]).reshape(-1, 1, 1, 1)
        c_skip, c_out, c_in, c_noise = edm_scalings(sigma, self.sigma_data)
        if (cond is None) != (self.extra_channels == 0):
            raise ValueError(
                f"this denoiser takes {self.extra_channels} extra channels, got "
                f"{'none' if cond is None else cond.shape[1]}"
            )
        inp = c_in * x
        if cond is not None:
            inp = torch.cat([inp, cond.to(inp.dtype)], dim=1)
        f = self.backbone(inp, c_noise.reshape(-1))
        return c_skip * x + c_out * f.float()


def build_denoiser(
    cfg: ModelConfig, *, channels: int, resolution: int, extra_channels: int = 0
) -> Denoiser:
    """The configured backbone wrapped in EDM preconditioning."""
    backbone = build_backbone(cfg, channels + extra_channels, channels, resolution)
    return Denoiser(
        backbone,
        channels=channels,
        resolution=resolution,
        sigma_data=cfg.sigma_data,
        extra_channels=extra_channels,
    )
