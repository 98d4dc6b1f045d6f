"""Exponential moving average of the weights; the EMA model is what is evaluated and sampled."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay(step: int, decay: float, warmup: bool = True) -> float:
    """min(decay, (1 + s) / (10 + s)) after optimizer step s = 0, 1, ... (warm-up), else decay."""
    return min(decay, (1.0 + step) / (10.0 + step)) if warmup else decay


class EMA:
    """Keeps ``model``, an EMA copy of a network: theta_ema <- d theta_ema + (1 - d) theta."""

    def __init__(self, net: nn.Module, decay: float, warmup: bool = True) -> None:
        self.model = copy.deepcopy(net).eval().requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self._ema_params = list(self.model.parameters())
        self._ema_buffers = list(self.model.buffers())

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        """Blend in `net` after optimizer step `step` (0-based)."""
        d = ema_decay(step, self.decay, self.warmup)
        torch._foreach_lerp_(self._ema_params, [p.detach() for p in net.parameters()], 1.0 - d)
        for b_ema, b in zip(self._ema_buffers, net.buffers(), strict=True):
            b_ema.copy_(b)
