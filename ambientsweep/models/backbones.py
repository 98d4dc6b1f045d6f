"""Backbones F(x; c_noise) for the EDM denoiser: a small UNet and a tiny MLP (tests)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ambientsweep.config import ModelConfig


class FourierEmbedding(nn.Module):
    """sin/cos features of c_noise at geometric frequencies 1..1000, then an MLP to `dim`."""

    def __init__(self, dim: int, num_freqs: int = 32, max_freq: float = 1000.0) -> None:
        super().__init__()
        freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), num_freqs))
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * num_freqs, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: Tensor) -> Tensor:
        arg = c_noise.reshape(-1, 1).float() * self.freqs
        return self.mlp(torch.cat([arg.sin(), arg.cos()], dim=1))


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, ch), ch)


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm+SiLU+conv twice, the noise embedding added in between; second conv zero-init."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = _norm(cout), _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class UNet(nn.Module):
    """Small UNet: `num_blocks` ResBlocks per level down and up (concatenated skips).

    Levels are separated by a stride-2 conv going down and nearest-neighbour upsampling going
    up; one ResBlock in the middle. The default config is the calibration's "micro" net.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        channels: int = 32,
        channel_mult: tuple[int, ...] = (1, 2),
        num_blocks: int = 1,
        emb_dim: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        chs = [channels * m for m in channel_mult]
        self.embed = FourierEmbedding(emb_dim)
        self.conv_in = nn.Conv2d(in_channels, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips: list[int] = []
        for i, ch in enumerate(chs):
            self.down.append(
                nn.ModuleList(ResBlock(ch, ch, emb_dim, dropout) for _ in range(num_blocks))
            )
            skips += [ch] * num_blocks
            if i + 1 < len(chs):
                self.downsample.append(nn.Conv2d(ch, chs[i + 1], 3, stride=2, padding=1))
        self.mid = ResBlock(chs[-1], chs[-1], emb_dim, dropout)
        self.up = nn.ModuleList()
        cur = chs[-1]
        for ch in reversed(chs):
            blocks = nn.ModuleList()
            for _ in range(num_blocks):
                blocks.append(ResBlock(cur + skips.pop(), ch, emb_dim, dropout))
                cur = ch
            self.up.append(blocks)
        self.norm_out = _norm(chs[0])
        self.conv_out = _zero(nn.Conv2d(chs[0], out_channels, 3, padding=1))

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        emb = self.embed(c_noise)
        h = self.conv_in(x)
        skips: list[Tensor] = []
        for i, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, emb)
                skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        for i, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if i + 1 < len(self.up):
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        return self.conv_out(F.silu(self.norm_out(h)))


class MLP(nn.Module):
    """Tiny MLP on flattened pixels with an additive noise embedding (fast tests)."""

    def __init__(
        self, in_channels: int, out_channels: int, resolution: int, *, hidden: int, layers: int
    ) -> None:
        super().__init__()
        self.out_shape = (out_channels, resolution, resolution)
        self.embed = FourierEmbedding(hidden)
        self.inp = nn.Linear(in_channels * resolution * resolution, hidden)
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers - 2))
        self.out = _zero(nn.Linear(hidden, out_channels * resolution * resolution))

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        h = F.silu(self.inp(x.flatten(1)) + self.embed(c_noise))
        for layer in self.hidden:
            h = F.silu(layer(h))
        return self.out(h).reshape(-1, *self.out_shape)


def build_backbone(
    cfg: ModelConfig, in_channels: int, out_channels: int, resolution: int
) -> nn.Module:
    """The backbone ``cfg.backbone``: forward(x [B,in,H,W], c_noise [B]) -> [B,out,H,W]."""
    if cfg.backbone == "mlp":
        return MLP(
            in_channels, out_channels, resolution, hidden=cfg.mlp_hidden, layers=cfg.mlp_layers
        )
    factor = 2 ** (len(cfg.channel_mult) - 1)
    if resolution % factor:
        raise ValueError(
            f"model.channel_mult has {len(cfg.channel_mult)} levels, so the resolution must be "
            f"divisible by {factor}; got {resolution}"
        )
    return UNet(
        in_channels,
        out_channels,
        channels=cfg.channels,
        channel_mult=tuple(cfg.channel_mult),
        num_blocks=cfg.num_blocks,
        emb_dim=cfg.emb_dim,
        dropout=cfg.dropout,
    )
