"""High-noise ambient training (Shah, Kalavasis, Klivans, Daras 2025, "creative" diffusion).

One small clean data set, two regimes split at the noise cutoff σ_tn (t_n in the paper):

* σ < σ_tn (clean branch): x_σ = x0 + σ n, loss λ(σ)·||D(x_σ; σ) − x0||² (plain EDM).
* σ ≥ σ_tn (ambient branch): only a noisy copy x_tn = x0 + σ_tn ε is regressed onto, with ε
  frozen per image (the paper's scripts) or fresh (``fixed_noise: false``). The input is
  x_σ = x_tn + sqrt(σ² − σ_tn²) n, and the x0 prediction is turned into a prediction of x_tn by
  the VE→VE Tweedie relation

      E[x_tn | x_σ] = (σ_tn²/σ²)·x_σ + (1 − σ_tn²/σ²)·E[x0 | x_σ],

  so ŷ_tn = a·x_σ + (1 − a)·D(x_σ; σ), a = σ_tn²/σ², and the loss is w(σ)·||ŷ_tn − x_tn||².
  Its population minimiser is D* = E[x0 | x_σ] of the clean distribution, yet the network is
  never pulled toward a clean training image at σ ≥ σ_tn.

Both branches share one batch: the clean branch is the ambient formula with a = 0 and the
target x0, so σ_tn = 0 reproduces the ``edm`` loss exactly (same draws, same order).

What a network that fits the training set learns (the empirical minimiser). With frozen
noise the ambient branch sees N fixed points c_i = x_tn^(i) = x0^(i) + σ_tn ε^(i), and at a
level σ ≥ σ_tn its input is x = c_I + τ n, τ² = σ² − σ_tn², I uniform. The loss is a
least-squares regression of c_I on x through ŷ = a x + (1 − a) D, so its exact minimiser over
all functions is ŷ* = E[c_I | x] = Σ_i w_i(x) c_i, w = softmax_i(−||x − c_i||² / 2τ²), i.e.

    D*(x; σ) = (E[c_I | x] − a x) / (1 − a) = x + σ² ∇ log p_τ(x),
    p_τ = (1/N) Σ_i N(c_i, τ² I)

(using 1 − a = τ²/σ² and Tweedie, E[c_I | x] = x + τ² ∇ log p_τ(x)). The implied score
(D* − x)/σ² is the score of the frozen noisy copies smoothed by τ, so that the total noise over
x0 is σ. Reparametrised by τ (τ dτ = σ dσ), the probability-flow ODE with this score is the
VE flow of the empirical distribution of the copies: it ends, at σ = σ_tn, exactly on one copy
c_i. Below σ_tn the clean branch's empirical minimiser is EDM's, softmax-weighted x0^(i) at σ,
which carries c_i (x0^(i) plus noise σ_tn) to its own image x0^(i). A network that fits both
branches therefore memorizes just as EDM does; the method can only help insofar as the network
cannot fit the noisy copies (capacity, regularisation, training length), which is what its
verdicts should be read against. The fresh-noise variant (``fixed_noise: false``) has no such
finite set of targets. Both steps are checked numerically in ``tests/methods/test_ambient_tn.py``
(the minimiser from the real loss on a 3-image toy; sampling with both exact minimisers).

Weighting (``weighting``): ``edm`` (the paper code, default) uses the plain EDM λ(σ) on the
x_tn error, i.e. λ·(1 − a)² on the x0 error, which vanishes as σ ↓ σ_tn; ``x0`` (ambient-utils
README) multiplies by σ⁴/(σ² − σ_tn²)² = 1/(1 − a)² to restore x0-space EDM weighting. That
factor diverges at σ = σ_tn, where the x_tn target carries almost no information about D; we
cap it at :data:`X0_WEIGHT_CAP` (reached for σ² < σ_tn²/(1 − 1/sqrt(cap)), i.e. σ within ~5 %
of σ_tn for the cap of 100).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ambientsweep.methods.base import (
    Batch,
    CorruptionInput,
    MethodBase,
    TrainSet,
    rows_of,
)
from ambientsweep.methods.edm.method import edm_weight, pixel_mean, sample_sigmas
from ambientsweep.sampling.solvers import randn

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.ambient_tn.spec import AmbientTnSpec
    from ambientsweep.models.precond import Denoiser

__all__ = ["X0_WEIGHT_CAP", "AmbientTn", "quantile_sigma", "tweedie_a", "x0_to_xtn"]

X0_WEIGHT_CAP = 100.0  # max of the "x0" weighting's factor 1/(1 - a)^2 near sigma = sigma_tn


def quantile_sigma(q: float, p_mean: float, p_std: float) -> float:
    """σ_tn with a share `q` of the training σ below it: exp(P_mean + P_std·Φ⁻¹(q)); q = 0 → 0."""
    if q <= 0.0:
        return 0.0
    return math.exp(p_mean + p_std * NormalDist().inv_cdf(q))


def tweedie_a(sigma: Tensor, sigma_tn: float) -> Tensor:
    """a = σ_tn²/σ² where σ ≥ σ_tn (ambient branch), 0 where σ < σ_tn (clean branch)."""
    return torch.where(sigma >= sigma_tn, (sigma_tn / sigma) ** 2, torch.zeros_like(sigma))


def x0_to_xtn(x_sigma: Tensor, x0_hat: Tensor, a: Tensor) -> Tensor:
    """ŷ_tn = a·x_σ + (1 − a)·x̂0: E[x_tn|x_σ] from E[x0|x_σ] (Shah et al. 2025, VE→VE Tweedie).

    Args:
        x_sigma: [B,...] the network input at noise level σ.
        x0_hat: [B,...] the x0 prediction D(x_σ; σ).
        a: [B] σ_tn²/σ² (0 for the clean branch, where ŷ = x̂0).
    """
    a = a.reshape(-1, *([1] * (x_sigma.ndim - 1))).to(x_sigma.dtype)
    return a * x_sigma + (1 - a) * x0_hat


class AmbientTn(MethodBase):
    """Clean EDM loss below σ_tn, ambient (noisy-target) loss above it (Shah et al. 2025)."""

    spec: AmbientTnSpec

    def __init__(self, spec: AmbientTnSpec, config: TrialConfig) -> None:
        super().__init__(spec, config)
        t = config.train
        if spec.sigma_tn is not None:
            self.sigma_tn = float(spec.sigma_tn)
        else:
            assert spec.tn_quantile is not None  # the spec validates exactly one of the two
            self.sigma_tn = quantile_sigma(spec.tn_quantile, t.p_mean, t.p_std)
        self._ids: Tensor | None = None  # [N] sorted image ids
        self._eps: Tensor | None = None  # [N,C,H,W] frozen ε, rows in the order of _ids

    def train_sets(self, view: CorruptionInput) -> dict[str, TrainSet]:
        from ambientsweep.data.corruption import gaussian_noise

        cfg = self.config
        self._train_index = view.index.clone()
        self._ids = view.index.sort().values
        shape = (int(view.x.shape[1]), int(view.x.shape[2]), int(view.x.shape[3]))
        eps = gaussian_noise(self._ids, shape, seed=cfg.seed, replicate=cfg.replicate, salt="tn")
        self._eps = eps.to(view.x)
        # Both branches see the same clean images; the noisy copies are x0 + sigma_tn * eps.
        return {"train": TrainSet(x=view.x.clone(), index=view.index.clone())}

    def noise_tn(self, batch: Batch, generator: torch.Generator) -> Tensor:
        """[B,C,H,W] ε of x_tn = x0 + σ_tn ε: frozen per image id, or fresh from `generator`."""
        x = batch.x
        if not self.spec.fixed_noise:
            return randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        if self._ids is None or self._eps is None:
            raise RuntimeError("the ambient_tn loss needs train_sets() to be built first")
        pos = rows_of(self._ids, batch.index, "ambient_tn")
        if self._eps.device != x.device:
            self._eps = self._eps.to(x.device)
        return self._eps[pos.to(x.device)].to(x.dtype)

    def loss(self, net: Denoiser, batch: Batch, generator: torch.Generator) -> Tensor:
        """[B] w(σ)·||ŷ_tn − x_tn||² / pixels per branch (Shah et al. 2025; EDM σ and λ)."""
        t, x0 = self.config.train, batch.x
        # Same draws in the same order as edm_loss, so sigma_tn = 0 reproduces it exactly.
        sigma = sample_sigmas(len(x0), t.p_mean, t.p_std, generator=generator, device=x0.device)
        n = randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        eps = self.noise_tn(batch, generator)
        a = tweedie_a(sigma, self.sigma_tn)
        ambient = (sigma >= self.sigma_tn).reshape(-1, 1, 1, 1)
        target = torch.where(ambient, x0 + self.sigma_tn * eps, x0)  # x_tn or x0
        # sqrt(σ² − σ_tn²) written as σ·sqrt(1 − a): exactly σ when a = 0.
        scale = (sigma * (1 - a).sqrt()).reshape(-1, 1, 1, 1)
        x_sigma = target + scale * n
        y_hat = x0_to_xtn(x_sigma, net(x_sigma, sigma), a)
        weight = edm_weight(sigma, net.sigma_data)
        if self.spec.weighting == "x0":
            weight = weight * (1 - a).pow(-2).clamp_max(X0_WEIGHT_CAP)
        return weight * pixel_mean((y_hat - target) ** 2)

    def tags(self) -> dict[str, str]:
        return {
            "ambient_tn.sigma_tn": f"{self.sigma_tn:.6g}",
            "ambient_tn.weighting": self.spec.weighting,
            "ambient_tn.fixed_noise": str(self.spec.fixed_noise).lower(),
        }
