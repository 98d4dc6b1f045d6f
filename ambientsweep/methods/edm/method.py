"""Plain EDM (Karras et al. 2022) and the shared loss math the other methods reuse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ambientsweep.methods.base import (
    Batch,
    CorruptionInput,
    MethodBase,
    TrainSet,
    clean_noisy_split,
)
from ambientsweep.sampling.solvers import randn

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.edm.spec import EdmSpec
    from ambientsweep.models.precond import Denoiser


# ----------------------------------------------------------------------------------------------
# Loss math (Karras et al. 2022, Sec. 5 and Table 1), shared by edm, ambient, ambient_tn, sfbd.


def sample_sigmas(
    n: int, p_mean: float, p_std: float, *, generator: torch.Generator, device: torch.device
) -> Tensor:
    """[n] training noise levels, ln sigma ~ N(P_mean, P_std^2) (Karras et al. 2022, Table 1)."""
    return (p_mean + p_std * randn((n,), generator=generator, device=device)).exp()


def edm_weight(sigma: Tensor, sigma_data: float) -> Tensor:
    """lambda(sigma) = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2 (Karras et al. 2022, Table 1)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def pixel_mean(err: Tensor) -> Tensor:
    """Per-sample mean over all non-batch dims: the loss is averaged over pixels (DESIGN.md)."""
    return err.flatten(1).mean(dim=1)


def edm_loss(
    net: Denoiser,
    x0: Tensor,
    *,
    p_mean: float,
    p_std: float,
    generator: torch.Generator,
    cond: Tensor | None = None,
) -> Tensor:
    """[B] lambda(sigma) ||D(x0 + sigma n; sigma) - x0||^2 / pixels (Karras et al. 2022, Eq. 8)."""
    sigma = sample_sigmas(x0.shape[0], p_mean, p_std, generator=generator, device=x0.device)
    noise = randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    s = sigma.reshape(-1, 1, 1, 1)
    denoised = net(x0 + s * noise, sigma, cond)
    return edm_weight(sigma, net.sigma_data) * pixel_mean((denoised - x0) ** 2)


# ----------------------------------------------------------------------------------------------
# The method.


class Edm(MethodBase):
    """EDM on clean data, on the SFBD clean fraction, or naively on corrupted observations.

    train_on: clean = every training image; clean_fraction = the clean part of the SFBD split;
    noisy = the noisy part, y = x + sigma n (noise frozen per image), trained on as if clean;
    masked = erased pixels set to 0 (mask frozen per image), trained on as if clean.
    """

    spec: EdmSpec

    def __init__(self, spec: EdmSpec, config: TrialConfig) -> None:
        super().__init__(spec, config)
        self._sets_ids: dict[str, Tensor] = {}

    def train_sets(self, view: CorruptionInput) -> dict[str, TrainSet]:
        spec, cfg = self.spec, self.config
        x, index = view.x, view.index
        self._train_index = index.clone()
        clean_pos, noisy_pos = clean_noisy_split(len(index), spec.clean_fraction)
        self._sets_ids = {"_clean": index[clean_pos].clone(), "_noisy": index[noisy_pos].clone()}
        if spec.train_on == "clean":
            return {"train": TrainSet(x=x.clone(), index=index.clone())}
        if spec.train_on == "clean_fraction":
            if len(clean_pos) == 0:
                raise ValueError("method.clean_fraction leaves no clean training image")
            return {"train": TrainSet(x=x[clean_pos], index=index[clean_pos])}
        from ambientsweep.data.corruption import erase_mask, gaussian_noise

        if spec.train_on == "noisy":
            if len(noisy_pos) == 0:
                raise ValueError("method.clean_fraction = 1 leaves no noisy training image")
            ids = index[noisy_pos]
            noise = gaussian_noise(
                ids, tuple(x.shape[1:]), seed=cfg.seed, replicate=cfg.replicate
            ).to(x)
            y = x[noisy_pos] + spec.sigma * noise
            return {
                "train": TrainSet(x=y, index=ids, sigma_n=torch.full((len(ids),), spec.sigma))
            }
        mask = erase_mask(
            index, tuple(x.shape[2:]), spec.p, seed=cfg.seed, replicate=cfg.replicate
        ).to(x)
        return {"train": TrainSet(x=x * mask, index=index.clone(), mask=mask)}

    def loss(self, net: Denoiser, batch: Batch, generator: torch.Generator) -> Tensor:
        """EDM loss on the observations as given (the naive baseline for corrupted data)."""
        t = self.config.train
        return edm_loss(net, batch.x, p_mean=t.p_mean, p_std=t.p_std, generator=generator)

    def tags(self) -> dict[str, str]:
        return {"edm.train_on": self.spec.train_on}

    def memorization_sets(self) -> dict[str, Tensor]:
        sets = super().memorization_sets()
        if self.spec.train_on in ("clean_fraction", "noisy"):
            sets.update(self._sets_ids)
        return sets
