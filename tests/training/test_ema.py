"""EMA with the warm-up decay min(decay, (1 + s) / (10 + s))."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ambientsweep.training import EMA, ema_decay


def test_warmup_formula() -> None:
    assert ema_decay(0, 0.999) == pytest.approx(0.1)
    assert ema_decay(10, 0.999) == pytest.approx(11 / 20)
    assert ema_decay(100_000, 0.999) == 0.999
    assert ema_decay(0, 0.999, warmup=False) == 0.999


def test_update_is_a_lerp() -> None:
    net = nn.Linear(3, 2)
    ema = EMA(net, decay=0.9)
    old = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net, step=5)
    d = min(0.9, 6 / 15)
    for e, o, p in zip(ema.model.parameters(), old, net.parameters(), strict=True):
        torch.testing.assert_close(e, d * o + (1 - d) * p)
        assert not e.requires_grad
