"""A denoiser wrapper that records every call, for tests that recompute a loss by hand.

The loss tests of ``tests/methods`` call a method's real ``loss()`` on a
:class:`RecordingDenoiser` and rebuild the expected value from what the network was given (x,
sigma, the extra channels) and what it returned, with the paper's formulas written out in the
test. A wrong target, branch, input noise or mask in the method then shows up as a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ambientsweep.methods.base import Batch, Method
from ambientsweep.models.precond import Denoiser, build_denoiser

__all__ = ["Call", "RecordingDenoiser", "check_edm_loss", "perturbed"]


@dataclass(frozen=True)
class Call:
    """One forward call: inputs and output, detached."""

    x: Tensor  # [B,C,H,W] the noisy input D saw
    sigma: Tensor  # [B] noise levels (broadcast from a scalar if needed)
    cond: Tensor | None  # [B,extra,H,W] the extra channels, as passed
    out: Tensor  # [B,C,H,W] D(x; sigma)


class RecordingDenoiser(nn.Module):
    """Wraps a :class:`Denoiser`; same interface, records each call in :attr:`calls`."""

    def __init__(self, net: Denoiser) -> None:
        super().__init__()
        self.net = net
        self.sigma_data = net.sigma_data
        self.channels = net.channels
        self.resolution = net.resolution
        self.extra_channels = net.extra_channels
        self.calls: list[Call] = []

    def forward(self, x: Tensor, sigma: Tensor, cond: Tensor | None = None) -> Tensor:
        out = self.net(x, sigma, cond)
        s = torch.as_tensor(sigma, device=x.device).reshape(-1).expand(len(x))
        self.calls.append(
            Call(
                x=x.detach().clone(),
                sigma=s.detach().clone().float(),
                cond=None if cond is None else cond.detach().clone(),
                out=out.detach().clone(),
            )
        )
        return out


def perturbed(net: nn.Module, seed: int = 7, scale: float = 0.05) -> nn.Module:
    """`net` with N(0, scale^2) added to every parameter (zero-initialised layers come alive)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return net


def check_edm_loss(method: Method, x0: Tensor, p_mean: float, p_std: float) -> None:
    """Call `method`'s real ``loss()`` on clean images `x0` and recompute it by hand.

    Karras et al. 2022 (Eq. 8, Table 1): loss = λ(σ)·mean_pixels (D(x_σ; σ) − x0)² with
    λ = (σ² + σ_d²)/(σ σ_d)²; the input is x_σ = x0 + σ n with n ~ N(0, I); ln σ ~
    N(P_mean, P_std²). For the edm method and SFBD's fit loss. Needs a few hundred images.
    """
    torch.manual_seed(0)
    c, h = int(x0.shape[1]), int(x0.shape[2])
    net = RecordingDenoiser(
        perturbed(build_denoiser(method.config.model, channels=c, resolution=h))  # type: ignore[arg-type]
    )
    batch = Batch(x=x0, index=torch.arange(len(x0)))
    loss = method.loss(net, batch, torch.Generator().manual_seed(1))  # type: ignore[arg-type]
    (call,) = net.calls
    sigma, sd = call.sigma.double(), net.sigma_data
    lam = (sigma**2 + sd**2) / (sigma * sd) ** 2
    ref = lam * ((call.out.double() - x0.double()) ** 2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-6)
    n = (call.x.double() - x0.double()) / sigma.reshape(-1, 1, 1, 1)
    assert abs(n.mean().item()) < 0.03, f"input noise mean {n.mean().item()}"
    assert abs(n.std().item() - 1) < 0.03, f"input noise std {n.std().item()}, not 1"
    log_s = sigma.log()
    se = p_std / len(sigma) ** 0.5
    assert abs(log_s.mean().item() - p_mean) < 4 * se, "ln sigma mean is not P_mean"
    assert abs(log_s.std().item() / p_std - 1) < 0.15, "ln sigma std is not P_std"
