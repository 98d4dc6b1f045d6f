"""SFBD: stochastic forward-backward deconvolution (Lu, Wu, Yu, ICML 2025, Algorithm 1).

A small clean set D_clean and a large noisy set D_noisy = {y = x + sigma n} (n frozen per image;
the clean x of a noisy image is never stored). Phases run by the shared Trainer:

1. ``pretrain``: the EDM loss on D_clean.
2. For k = 1..K, ``denoise{k}`` (backward step): every y is integrated from exactly its noise
   level sigma down to 0 with the current EMA denoiser as the score, over the part of the
   Karras et al. 2022 grid below sigma; the result E_k replaces the train set ``denoised``.
   Then ``fit{k}`` (forward step): the EDM loss on E_k (or E_k union D_clean, as the official
   README merges them), fine-tuning the previous round's model. ``transfer: ema`` (default)
   starts each round as the official code's ``--transfer`` does: from the EMA weights, with a
   fresh Adam and a restarted learning-rate ramp (``Phase.from_ema``); ``transfer: raw``
   continues the raw weights with Adam's state and the learning rate as they are (the default
   before issue 21: on 500 digits the two are within the seed spread, ``repro_sfbd_transfer``).

The backward step is the deterministic probability-flow ODE (Heun, Karras et al. 2022, Alg. 1)
by default, as in the official ``denoise.py``, on the part below sigma of the ``denoise_steps``
grid. ``stochastic: true`` draws from the posterior p(x | y) with the reverse SDE the paper
describes (Song et al. 2021, Eq. 6), on its own grid: ``sde_steps`` steps from sigma down to 0
(a Karras grid spanning [sigma_min, sigma]), solved by stochastic Heun (weak order 2,
default) or Euler-Maruyama. The ODE's truncated grid is far too coarse for the SDE: at
sigma = 0.59 the 18-point grid leaves 8 Euler-Maruyama steps, whose samples on a Gaussian toy
have a std 13 % too large and a mean squared error to x0 25 % above exact posterior sampling
(``tests/methods/test_sfbd.py``); 32 stochastic-Heun steps are within 0.5 %.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ambientsweep.methods.base import (
    ActionContext,
    Batch,
    CorruptionInput,
    MethodBase,
    Phase,
    TrainSet,
    clean_noisy_split,
)
from ambientsweep.methods.edm.method import edm_loss
from ambientsweep.sampling.schedules import karras_sigmas, truncate
from ambientsweep.sampling.solvers import SDE_SOLVERS, DenoiseFn, heun

if TYPE_CHECKING:
    from ambientsweep.config import SamplerConfig, TrialConfig
    from ambientsweep.methods.sfbd.spec import SfbdSpec
    from ambientsweep.models.precond import Denoiser

__all__ = ["Sfbd", "backward_sigmas", "backward_step", "denoise_observations", "sde_sigmas"]

DENOISE_CHUNK = 512  # images per forward pass of the backward step (no grad)


# ----------------------------------------------------------------------------------------------
# The backward step (Lu et al. 2025, Alg. 1, "backward"), as plain functions of a denoiser.


def backward_sigmas(sigma: float, steps: int, sampler: SamplerConfig) -> Tensor:
    """The Karras et al. 2022 (Eq. 5) grid of `steps` points, truncated to start at `sigma`.

    As in the official ``denoise.py``: the points below sigma, with sigma itself first, then 0.
    """
    grid = karras_sigmas(steps, sampler.sigma_min, sampler.sigma_max, sampler.rho)
    return truncate(grid, sigma)


def sde_sigmas(sigma: float, steps: int, sampler: SamplerConfig) -> Tensor:
    """The SDE backward step's grid: `steps` steps from exactly `sigma` down to 0.

    Karras et al. 2022 (Eq. 5) with sigma_max = `sigma`, the sampler's sigma_min and rho:
    `steps` points from sigma to sigma_min, then 0 (so `steps` counts steps below sigma, not
    points of the full grid).
    """
    if not sigma > sampler.sigma_min:
        raise ValueError(f"the SDE grid needs sigma > sampler.sigma_min, got {sigma}")
    grid = karras_sigmas(steps, sampler.sigma_min, sigma, sampler.rho)
    grid[0] = sigma
    return grid


def backward_step(
    denoise_fn: DenoiseFn,
    y: Tensor,
    sigmas: Tensor,
    *,
    stochastic: bool,
    generator: torch.Generator,
    sde_solver: str = "heun",
) -> Tensor:
    """Integrate observations `y` (noise level ``sigmas[0]``) down to 0 (Lu et al. 2025, Alg. 1).

    ODE: Heun on dx/dsigma = (x - D(x; sigma)) / sigma (Karras et al. 2022, Alg. 1), which
    transports the noisy marginal onto the clean one. SDE: the reverse SDE (Song et al. 2021,
    Eq. 6), which draws from the posterior p(x0 | y), by `sde_solver` (``SDE_SOLVERS``).
    """
    if stochastic:
        return SDE_SOLVERS[sde_solver](denoise_fn, y, sigmas, generator=generator)
    return heun(denoise_fn, y, sigmas)


def denoise_observations(
    denoise_fn: DenoiseFn,
    y: Tensor,
    sigmas: Tensor,
    *,
    stochastic: bool,
    generator: torch.Generator,
    sde_solver: str = "heun",
    chunk: int = DENOISE_CHUNK,
) -> Tensor:
    """:func:`backward_step` over `y` in chunks of `chunk` images, without gradients."""
    parts = []
    with torch.no_grad():
        for start in range(0, len(y), chunk):
            part = y[start : start + chunk]
            out = backward_step(
                denoise_fn,
                part,
                sigmas,
                stochastic=stochastic,
                generator=generator,
                sde_solver=sde_solver,
            )
            parts.append(out)
    return torch.cat(parts) if parts else y.clone()


# ----------------------------------------------------------------------------------------------
# The method.


class Sfbd(MethodBase):
    """SFBD as phases: pretrain on the clean images, then K x [denoise the noisy ones; fit].

    Train sets: ``clean`` (the first round(clean_fraction N) images of the subset, the split the
    ``edm`` baselines use), ``noisy`` (y = x + sigma n, n frozen per image id; never fitted on
    directly) and, installed by each backward step, ``denoised``. The loss is the plain EDM loss
    (Karras et al. 2022, Eq. 8) on whatever the phase trains on.
    """

    spec: SfbdSpec

    def __init__(self, spec: SfbdSpec, config: TrialConfig) -> None:
        super().__init__(spec, config)
        self._clean_ids = torch.empty(0, dtype=torch.int64)
        self._noisy_ids = torch.empty(0, dtype=torch.int64)

    # -- data ----------------------------------------------------------------------------------

    def train_sets(self, view: CorruptionInput) -> dict[str, TrainSet]:
        spec = self.spec
        self._train_index = view.index.clone()
        clean_pos, noisy_pos = clean_noisy_split(len(view.index), spec.clean_fraction)
        if len(clean_pos) == 0:
            raise ValueError(
                f"method.clean_fraction = {spec.clean_fraction} leaves no clean image of "
                f"{len(view.index)} to pretrain on"
            )
        if len(noisy_pos) == 0 and spec.rounds > 0:
            raise ValueError(
                f"method.clean_fraction = {spec.clean_fraction} leaves no noisy image for the "
                "SFBD rounds (set method.rounds: 0 for clean pretraining only)"
            )
        self._clean_ids = view.index[clean_pos].clone()
        self._noisy_ids = view.index[noisy_pos].clone()
        sets = {"clean": TrainSet(x=view.x[clean_pos].clone(), index=self._clean_ids.clone())}
        if len(noisy_pos):
            sets["noisy"] = self._noisy_set(view.x[noisy_pos], self._noisy_ids)
        return sets

    def _noisy_set(self, x: Tensor, ids: Tensor) -> TrainSet:
        """y = x + sigma n with n frozen per image id; only y leaves this function."""
        from ambientsweep.data.corruption import gaussian_noise

        cfg = self.config
        noise = gaussian_noise(ids, tuple(x.shape[1:]), seed=cfg.seed, replicate=cfg.replicate)
        y = x + self.spec.sigma * noise.to(x)
        return TrainSet(x=y, index=ids.clone(), sigma_n=torch.full((len(ids),), self.spec.sigma))

    # -- loss and schedule ---------------------------------------------------------------------

    def loss(self, net: Denoiser, batch: Batch, generator: torch.Generator) -> Tensor:
        """The plain EDM loss (Karras et al. 2022, Eq. 8) on the batch's images, as in SFBD."""
        t = self.config.train
        return edm_loss(net, batch.x, p_mean=t.p_mean, p_std=t.p_std, generator=generator)

    def phases(self) -> list[Phase]:
        spec = self.spec
        out = [Phase("pretrain", "fit", kimg=spec.pretrain_kimg, data="clean", round=0)]
        for k in range(1, spec.rounds + 1):
            out += [
                Phase(f"denoise{k}", "action", round=k, action=partial(self.denoise_round, k)),
                Phase(
                    f"fit{k}",
                    "fit",
                    kimg=spec.round_kimg,
                    data="denoised",
                    round=k,
                    from_ema=spec.transfer == "ema",
                ),
            ]
        return out

    def planned_sampling(self, n_train: int) -> list[tuple[float, float]]:
        """Each round denoises the noisy images from sigma: about half a sampling trajectory."""
        n_noisy = n_train * (1 - self.spec.clean_fraction)
        return [(n_noisy, 0.5)] * self.spec.rounds

    # -- the backward step ---------------------------------------------------------------------

    def backward_sigmas(self) -> Tensor:
        """The backward step's grid: the ODE's truncated ``denoise_steps`` grid, or the SDE's
        own grid of ``sde_steps`` steps below sigma (:func:`sde_sigmas`)."""
        spec, sampler = self.spec, self.config.sampler
        if spec.stochastic:
            return sde_sigmas(spec.sigma, spec.sde_steps, sampler)
        return backward_sigmas(spec.sigma, spec.denoise_steps, sampler)

    def denoise(self, denoise_fn: DenoiseFn, y: Tensor, generator: torch.Generator) -> Tensor:
        """The backward step of this spec on observations `y` (no clamping)."""
        return denoise_observations(
            denoise_fn,
            y,
            self.backward_sigmas(),
            stochastic=self.spec.stochastic,
            generator=generator,
            sde_solver=self.spec.sde_solver,
        )

    def denoise_round(self, k: int, ctx: ActionContext) -> None:
        """Backward step of round `k`: denoise the noisy set, install it as ``denoised``."""
        spec = self.spec
        noisy = ctx.train_sets["noisy"]
        if spec.denoise_images is not None:
            noisy = noisy.take(torch.arange(min(spec.denoise_images, len(noisy))))
        net = ctx.net
        x0 = self.denoise(lambda x, s: net(x, s), noisy.x.to(ctx.device), ctx.generator)
        # NOTE: the official denoise.py writes the results as 8-bit images, i.e. clipped to the
        # data range; clamping keeps a round's outliers out of the next fit.
        denoised = TrainSet(x=x0.clamp(-1.0, 1.0), index=noisy.index.clone())
        ctx.replace_train_set("denoised", self._fit_set(denoised, ctx.train_sets["clean"]))
        ctx.on_denoised(denoised, k)

    def _fit_set(self, denoised: TrainSet, clean: TrainSet) -> TrainSet:
        """E_k (paper, Alg. 1) or E_k union D_clean (official README) when ``union``."""
        if not self.spec.union:
            return denoised
        return TrainSet(
            x=torch.cat([denoised.x, clean.x.to(denoised.x)]),
            index=torch.cat([denoised.index, clean.index.to(denoised.index)]),
        )

    # -- reporting -----------------------------------------------------------------------------

    def tags(self) -> dict[str, str]:
        spec = self.spec
        tags = {
            "sfbd.backward": "sde" if spec.stochastic else "ode",
            "sfbd.union": str(spec.union).lower(),
            "sfbd.transfer": spec.transfer,
        }
        if spec.stochastic:
            tags["sfbd.sde"] = f"{spec.sde_solver}/{spec.sde_steps}"
        clean = self._clean_images()
        if clean is not None:
            tags["sfbd.clean_images"] = str(clean)
        return tags

    def _clean_images(self) -> int | None:
        """How many images stay clean: known after train_sets(), or from data.train_size."""
        if self._train_index is not None:
            return len(self._clean_ids)
        n = self.config.data.train_size
        return None if n is None else len(clean_noisy_split(n, self.spec.clean_fraction)[0])

    def memorization_sets(self) -> dict[str, Tensor]:
        """All training ids, the clean ones, and the noisy images' (hidden) originals.

        A part with fewer than 2 images is left out: the ratio test needs two neighbours.
        """
        sets = super().memorization_sets()
        for suffix, ids in (("_clean", self._clean_ids), ("_noisy", self._noisy_ids)):
            if len(ids) >= 2:
                sets[suffix] = ids.clone()
        return sets
