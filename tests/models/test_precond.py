"""EDM preconditioning (Karras et al. 2022, Table 1)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from ambientsweep.models import Denoiser, edm_scalings


class _Probe(nn.Module):
    """Records its input; returns a constant 1 so D = c_skip x + c_out."""

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        self.x, self.c_noise = x, c_noise
        return torch.ones(x.shape[0], 1, *x.shape[2:])


def test_scalings_formulas() -> None:
    sd = 0.5
    for s in (0.002, 0.5, 3.0, 80.0):
        c_skip, c_out, c_in, c_noise = (float(v) for v in edm_scalings(torch.tensor(s), sd))
        assert c_skip == pytest.approx(sd**2 / (s**2 + sd**2))
        assert c_out == pytest.approx(s * sd / math.sqrt(s**2 + sd**2))
        assert c_in == pytest.approx(1 / math.sqrt(s**2 + sd**2))
        assert c_noise == pytest.approx(math.log(s) / 4)


def test_denoiser_applies_scalings_and_concatenates_cond() -> None:
    probe = _Probe()
    net = Denoiser(probe, channels=1, resolution=4, sigma_data=0.5, extra_channels=1)
    x, sigma = torch.randn(2, 1, 4, 4), torch.tensor([0.3, 2.0])
    cond = torch.ones(2, 1, 4, 4)
    out = net(x, sigma, cond)
    c_skip, c_out, c_in, c_noise = edm_scalings(sigma.reshape(-1, 1, 1, 1), 0.5)
    torch.testing.assert_close(out, c_skip * x + c_out)
    torch.testing.assert_close(probe.x[:, :1], c_in * x)
    torch.testing.assert_close(probe.x[:, 1:], cond)  # not scaled by c_in
    torch.testing.assert_close(probe.c_noise, c_noise.reshape(-1))


def test_scalar_sigma_broadcasts_and_cond_is_checked() -> None:
    net = Denoiser(_Probe(), channels=1, resolution=4)
    x = torch.randn(3, 1, 4, 4)
    torch.testing.assert_close(net(x, torch.tensor(0.7)), net(x, torch.full((3,), 0.7)))
    with pytest.raises(ValueError, match="extra channels"):
        net(x, torch.tensor(0.7), torch.ones(3, 1, 4, 4))
