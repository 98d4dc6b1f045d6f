"""Karras grid (Karras et al. 2022, Eq. 5) and truncation for SFBD's backward step."""

from __future__ import annotations

import pytest
import torch

from ambientsweep.sampling import karras_sigmas, truncate


def test_karras_grid_formula() -> None:
    n, lo, hi, rho = 18, 0.002, 80.0, 7.0
    s = karras_sigmas(n, lo, hi, rho)
    assert s.shape == (n + 1,) and s[-1] == 0
    i = torch.arange(n, dtype=torch.float64)
    expected = (hi ** (1 / rho) + i / (n - 1) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    torch.testing.assert_close(s[:-1], expected)
    assert s[0].item() == pytest.approx(hi) and s[-2].item() == pytest.approx(lo)
    assert torch.all(s[1:] < s[:-1])


@pytest.mark.parametrize("start", [0.5, 0.59, 1.3824, 79.0])
def test_truncate_starts_exactly_at_sigma(start: float) -> None:
    s = karras_sigmas(18)
    t = truncate(s, start)
    assert t[0].item() == start
    assert torch.all(t[1:] < start) and t[-1] == 0
    torch.testing.assert_close(t[1:], s[s < start])


def test_truncate_at_a_grid_point_keeps_it_once() -> None:
    s = karras_sigmas(18)
    t = truncate(s, float(s[10]))
    torch.testing.assert_close(t, s[10:])
    with pytest.raises(ValueError):
        truncate(s, 0.0)
