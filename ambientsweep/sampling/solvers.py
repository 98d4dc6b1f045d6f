"""ODE/SDE solvers on an explicit sigma grid (Karras et al. 2022, Algorithms 1 and 2).

``denoise_fn(x, sigma)`` returns the x0 prediction D(x; sigma) for a 0-d ``sigma`` tensor.
The generator may live on another device than ``x``: draws are made on the generator's
device and moved, so a CPU generator works with a CUDA model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ambientsweep.config import SamplerConfig
from ambientsweep.sampling.schedules import karras_sigmas

DenoiseFn = Callable[[Tensor, Tensor], Tensor]


def randn(
    shape: Sequence[int],
    *,
    generator: torch.Generator,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """N(0, I) drawn from `generator` (on its own device), returned on `device`."""
    out = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out.to(device)


def _churn(
    x: Tensor,
    sigma: float,
    n_steps: int,
    generator: torch.Generator | None,
    churn: float,
    s_tmin: float,
    s_tmax: float,
    s_noise: float,
) -> tuple[Tensor, float]:
    """EDM Algorithm 2, lines 4-6: raise the noise level to sigma_hat = (1 + gamma) sigma."""
    gamma = min(churn / n_steps, math.sqrt(2.0) - 1.0) if s_tmin <= sigma <= s_tmax else 0.0
    if gamma <= 0.0:
        return x, sigma
    if generator is None:
        raise ValueError("stochastic sampling (churn > 0) needs a generator")
    sigma_hat = sigma * (1.0 + gamma)
    eps = randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + math.sqrt(sigma_hat**2 - sigma**2) * s_noise * eps, sigma_hat


def _sigma(x: Tensor, value: float) -> Tensor:
    return torch.tensor(value, dtype=torch.float32, device=x.device)


@torch.no_grad()
def euler(
    denoise_fn: DenoiseFn,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: torch.Generator | None = None,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
) -> Tensor:
    """Euler steps of the probability-flow ODE (EDM Alg. 1 without line 9), Alg. 2 churn."""
    grid = [float(s) for s in sigmas]
    n_steps = len(grid) - 1
    for sigma, sigma_next in itertools.pairwise(grid):
        x, sigma_hat = _churn(x, sigma, n_steps, generator, churn, s_tmin, s_tmax, s_noise)
        d = (x - denoise_fn(x, _sigma(x, sigma_hat))) / sigma_hat
        x = x + (sigma_next - sigma_hat) * d
    return x


@torch.no_grad()
def heun(
    denoise_fn: DenoiseFn,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: torch.Generator | None = None,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
) -> Tensor:
    """Heun's 2nd-order method, EDM Algorithm 1 (churn = 0) or Algorithm 2 (churn > 0)."""
    grid = [float(s) for s in sigmas]
    n_steps = len(grid) - 1
    for sigma, sigma_next in itertools.pairwise(grid):
        x, sigma_hat = _churn(x, sigma, n_steps, generator, churn, s_tmin, s_tmax, s_noise)
        d = (x - denoise_fn(x, _sigma(x, sigma_hat))) / sigma_hat
        x_next = x + (sigma_next - sigma_hat) * d
        if sigma_next > 0:
            d_next = (x_next - denoise_fn(x_next, _sigma(x, sigma_next))) / sigma_next
            x_next = x + (sigma_next - sigma_hat) * 0.5 * (d + d_next)
        x = x_next
    return x


SOLVERS: dict[str, Callable[..., Tensor]] = {"euler": euler, "heun": heun}


def sample_from_config(
    denoise_fn: DenoiseFn,
    x_or_shape: Tensor | Sequence[int],
    sampler_cfg: SamplerConfig,
    generator: torch.Generator,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """Run the configured solver on the full Karras grid.

    Args:
        denoise_fn: D(x; sigma), the x0 prediction.
        x_or_shape: the start state at sigma_max (already scaled), or a shape, in which case
            x = sigma_max * N(0, I) is drawn from `generator`.
        sampler_cfg: solver, grid and churn settings; `clip` clamps the result to [-1, 1].
        generator: randomness of the start noise and of the churn.
        device: where a drawn start state lives (default: the generator's device).

    Returns:
        The samples at sigma = 0.
    """
    cfg = sampler_cfg
    if isinstance(x_or_shape, Tensor):
        x = x_or_shape
    else:
        target = generator.device if device is None else device
        x = cfg.sigma_max * randn(x_or_shape, generator=generator, device=target)
    sigmas = karras_sigmas(cfg.steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)
    out = SOLVERS[cfg.solver](
        denoise_fn,
        x,
        sigmas,
        generator=generator,
        churn=cfg.churn,
        s_tmin=cfg.s_tmin,
        s_tmax=cfg.s_tmax,
        s_noise=cfg.s_noise,
    )
    return out.clamp(-1.0, 1.0) if cfg.clip else out


@torch.no_grad()
def euler_maruyama(
    denoise_fn: DenoiseFn,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: torch.Generator,
) -> Tensor:
    """Euler-Maruyama on the VE reverse-time SDE (Song et al. 2021, Eq. 6; Lu et al. 2025, Alg. 1).

    With sigma as the time variable the VE reverse SDE is dx = -d[sigma^2] s(x; sigma) + dw with
    Var(dw) = -d[sigma^2], and the score is s(x; sigma) = (D(x; sigma) - x) / sigma^2. One step
    from sigma_i to sigma_{i+1}:

        x <- x + (sigma_i^2 - sigma_{i+1}^2) s(x; sigma_i) + sqrt(sigma_i^2 - sigma_{i+1}^2) z,

    z ~ N(0, I) from `generator`. Started at an observation y = x0 + sigma_0 n, it draws
    (approximately, first order in the step) from p(x0 | y): SFBD's "backward SDE".
    """
    grid = [float(s) for s in sigmas]
    for sigma, sigma_next in itertools.pairwise(grid):
        var = sigma**2 - sigma_next**2
        score = (denoise_fn(x, _sigma(x, sigma)) - x) / sigma**2
        z = randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = x + var * score + math.sqrt(var) * z
    return x


@torch.no_grad()
def stochastic_heun(
    denoise_fn: DenoiseFn,
    x: Tensor,
    sigmas: Tensor,
    *,
    generator: torch.Generator,
) -> Tensor:
    """Stochastic Heun (improved Euler) on the VE reverse-time SDE (Song et al. 2021, Eq. 6).

    In the variance time tau = sigma^2 the reverse SDE is dx = s(x; sigma) d(-tau) + dw with
    additive noise, s = (D - x) / sigma^2. For additive noise, Platen's explicit order-2.0 weak
    scheme (Kloeden & Platen 1992, Sec. 15.1) reduces to this improved-Euler step, with one
    Gaussian increment shared by predictor and corrector: weak order 2 against
    Euler-Maruyama's 1 (the same step is the "improved Euler" SDE solver of Jolicoeur-Martineau
    et al. 2021, "Gotta Go Fast"). One step, h = sigma_i^2 - sigma_{i+1}^2, z ~ N(0, I):

        x~ = x + h s(x; sigma_i) + sqrt(h) z
        x' = x + h/2 (s(x; sigma_i) + s(x~; sigma_{i+1})) + sqrt(h) z

    The step into sigma = 0 is the Euler-Maruyama step (the score is undefined at 0), as the
    last step of Heun's ODE method (Karras et al. 2022, Alg. 1). On the Gaussian toy with the
    exact denoiser, 32 steps below sigma = 0.5 or 0.59 give samples whose std and mean squared
    error to x0 are within 0.5 % of exact posterior sampling; Euler-Maruyama on the same grid
    is 1.4-2.1 % off in std and 3.7-4.4 % in MSE (``tests/methods/test_sfbd.py``).
    """
    grid = [float(s) for s in sigmas]
    for sigma, sigma_next in itertools.pairwise(grid):
        h = sigma**2 - sigma_next**2
        dw = math.sqrt(h) * randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        score = (denoise_fn(x, _sigma(x, sigma)) - x) / sigma**2
        x_next = x + h * score + dw
        if sigma_next > 0:
            score_next = (denoise_fn(x_next, _sigma(x, sigma_next)) - x_next) / sigma_next**2
            x_next = x + 0.5 * h * (score + score_next) + dw
        x = x_next
    return x


SDE_SOLVERS: dict[str, Callable[..., Tensor]] = {
    "euler_maruyama": euler_maruyama,
    "heun": stochastic_heun,
}
