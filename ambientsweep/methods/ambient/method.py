"""Ambient Diffusion (Daras et al., NeurIPS 2023): learning from images with erased pixels.

Every training image is seen only as A·x0 with its mask A (each pixel erased with probability
``p``, frozen per image, shared across channels). Before the network sees a noisy image, a
further mask B erases each surviving pixel with probability ``delta``; the network gets
Ã·x_t and Ã = B·A (one extra input channel) and predicts x0, and the loss supervises every
pixel of A, including those B hid (Daras et al. 2023, the ambient training objective, here
with EDM's σ distribution and weight λ(σ), Karras et al. 2022):

    J = E λ(σ) ||A ⊙ (h_θ(Ã·x_t, Ã; σ) − x0)||²,    x_t = x0 + σ n.

Because the network cannot tell which hidden pixels A observed, the minimiser is
h* = E[x0 | Ã·x_t, Ã] (Daras et al. 2023). With delta = 0 (Ã = A) it is only asked to reproduce
observed pixels and never learns to fill erased ones: the naive ablation.

Choices (documented here and in the tags):

* Masks: A from ``erase_mask(salt="A")`` (the same A as ``edm`` with ``train_on=masked``, so the
  naive EDM baseline sees the same observations); B from ``erase_mask(salt="B")`` frozen per image
  as in the official code, or redrawn from the training generator each step
  (``redraw_delta``, as the paper describes B).
* Normalisation: the per-sample loss is λ(σ) times the mean of the squared error over the
  observed entries of A (pixels × channels), i.e. Σ_A err / (C·|A|). At p = 0 this is exactly
  the ``edm`` pixel mean. Any weight that depends only on A leaves the minimiser unchanged,
  because given (Ã, Ã·x_t) the mask A is independent of x0.
* Preconditioning (see :func:`masked_denoise`): the shared EDM Denoiser computes
  c_skip·(Ã·x_t) + c_out·F, like the official code, which preconditions all channels. On
  observed pixels of Ã that is the EDM parameterisation. On hidden pixels the skip term is 0
  and c_out → σ at low noise, so F would have to reach x0/σ there (hundreds at σ_min); we
  therefore rescale the network output at hidden pixels to σ_d·F (unit-variance target, like
  EDM's c_out at high noise). Where Ã = 1 the result equals the Denoiser's output bit for bit.
* The mask channel (``mask_precond``): the official ``EDMPrecond`` multiplies the whole input
  [Ã·x_t, Ã] by c_in, so the mask enters at amplitude c_in = 1/sqrt(σ² + σ_d²) (0.0125 at
  σ = 80): ``c_in``, the default. ``unscaled`` feeds Ã at amplitude 1 (this project before
  issue 18; kept for the ablation). Checkpoints record it (``training.checkpoint``).
* Sampling (``clip_denoised``): as the official ``eval.py``, the x0 prediction is clipped to
  the data range [-1, 1] at every solver step, not only the final sample.
"""

from __future__ import annotations

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
from ambientsweep.metrics import names
from ambientsweep.metrics.holes import holes_contrast
from ambientsweep.models.precond import edm_scalings
from ambientsweep.sampling.solvers import randn, sample_from_config

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.ambient.spec import AmbientSpec
    from ambientsweep.models.precond import Denoiser

__all__ = ["Ambient", "masked_denoise", "masked_pixel_mean"]


def masked_denoise(
    net: Denoiser, x: Tensor, sigma: Tensor, mask: Tensor, *, mask_precond: str = "c_in"
) -> Tensor:
    """x0 prediction h(Ã·x, Ã; σ) for Ambient Diffusion (Daras et al. 2023).

    The Denoiser gives D = c_skip·(Ã·x) + c_out·F(c_in·Ã·x, m; c_noise) (Karras et al. 2022,
    Eq. 7) with the mask channel m = c_in·Ã (``mask_precond="c_in"``, the official code) or
    m = Ã (``"unscaled"``). Observed pixels keep D; hidden pixels (Ã = 0, no skip term) get
    σ_d·F, so the network's target there has unit scale at every σ instead of x0/c_out.

    Args:
        net: the EDM Denoiser with one extra input channel.
        x: [B,C,H,W] noisy images x_t (masked here; values at hidden pixels are never read).
        sigma: [B] or 0-d noise levels.
        mask: [B,1,H,W] Ã in {0, 1}, 1 = shown to the network.
        mask_precond: ``c_in`` or ``unscaled``, how the mask channel enters the backbone.

    Returns:
        [B,C,H,W] the x0 prediction at every pixel.
    """
    if mask_precond not in ("c_in", "unscaled"):
        raise ValueError(f"mask_precond must be 'c_in' or 'unscaled', got {mask_precond!r}")
    shown = mask.to(x.dtype)
    x_in = torch.where(shown.bool(), x, torch.zeros_like(x))
    s = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    s = s.reshape(-1).expand(len(x)).reshape(-1, 1, 1, 1)
    c_skip, c_out, c_in, _ = edm_scalings(s, net.sigma_data)
    cond = c_in * shown if mask_precond == "c_in" else shown
    d = net(x_in, sigma, cond)
    f = (d - c_skip * x_in) / c_out  # the backbone's output F
    return shown * d + (1 - shown) * (net.sigma_data * f)


def masked_pixel_mean(err: Tensor, mask: Tensor) -> Tensor:
    """[B] mean of `err` [B,C,H,W] over the entries where `mask` [B,1,H,W] is 1."""
    m = mask.to(err.dtype).expand_as(err)
    return pixel_mean(m * err) / pixel_mean(m).clamp_min(1.0 / m[0].numel())


class Ambient(MethodBase):
    """Ambient Diffusion with pixel-erasure masks (Daras et al. 2023), EDM σ and weighting."""

    spec: AmbientSpec
    extra_channels = 1  # the mask Ã, concatenated to the backbone input
    sampler_note = "Ambient Diffusion samples through masks"

    def __init__(self, spec: AmbientSpec, config: TrialConfig) -> None:
        super().__init__(spec, config)
        self._ids: Tensor | None = None  # [N] sorted image ids of the train set
        self._further: Tensor | None = None  # [N,1,H,W] frozen B, rows in the order of _ids
        self._last_shown: Tensor | None = None  # [n,1,H,W] Ã of the last sample() call

    @property
    def survival(self) -> float:
        """Expected share of pixels in Ã: (1 − p)(1 − delta)."""
        return (1.0 - self.spec.p) * (1.0 - self.spec.delta)

    def train_sets(self, view: CorruptionInput) -> dict[str, TrainSet]:
        from ambientsweep.data.corruption import erase_mask

        cfg, spec = self.config, self.spec
        index = view.index.clone()
        self._train_index = index.clone()
        hw = (int(view.x.shape[2]), int(view.x.shape[3]))
        a = erase_mask(index, hw, spec.p, seed=cfg.seed, replicate=cfg.replicate, salt="A")
        a = a.to(view.x)
        # The train set holds only A·x0: erased values are 0, never the originals.
        y = torch.where(a.bool(), view.x, torch.zeros_like(view.x))
        ids = index.sort().values
        self._ids = ids
        b = erase_mask(ids, hw, spec.delta, seed=cfg.seed, replicate=cfg.replicate, salt="B")
        self._further = b.to(view.x)
        return {"train": TrainSet(x=y, index=index, mask=a)}

    def further_mask(self, batch: Batch, generator: torch.Generator) -> Tensor:
        """[B,1,H,W] B: frozen per image id, or redrawn from `generator` (`redraw_delta`)."""
        assert batch.mask is not None
        if self.spec.redraw_delta:
            u = torch.rand(batch.mask.shape, generator=generator, device=generator.device)
            return (u >= self.spec.delta).to(batch.mask)
        if self._ids is None or self._further is None:
            raise RuntimeError("the ambient loss needs train_sets() to be built first")
        pos = rows_of(self._ids, batch.index, "ambient")
        if self._further.device != batch.mask.device:
            self._further = self._further.to(batch.mask.device)
        return self._further[pos.to(self._further.device)].to(batch.mask)

    def loss(self, net: Denoiser, batch: Batch, generator: torch.Generator) -> Tensor:
        """[B] λ(σ)·mean_A (h(Ã·x_t, Ã; σ) − x0)² (Daras et al. 2023, ambient loss; EDM σ, λ)."""
        if batch.mask is None:
            raise ValueError("the ambient loss needs batches with a mask A")
        t = self.config.train
        x0, a = batch.x, batch.mask
        # Same draws in the same order as edm_loss, so p = delta = 0 reproduces it exactly.
        sigma = sample_sigmas(len(x0), t.p_mean, t.p_std, generator=generator, device=x0.device)
        noise = randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        shown = a * self.further_mask(batch, generator)  # Ã = B·A
        x_t = x0 + sigma.reshape(-1, 1, 1, 1) * noise
        x0_hat = masked_denoise(net, x_t, sigma, shown, mask_precond=self.spec.mask_precond)
        err = torch.where(a.bool(), x0_hat - x0, torch.zeros_like(x0_hat)) ** 2
        return edm_weight(sigma, net.sigma_data) * masked_pixel_mean(err, a)

    @torch.no_grad()
    def sample(self, net: Denoiser, n: int, generator: torch.Generator) -> Tensor:
        """Fixed-mask sampling (Daras et al. 2023): one Ã per sample, kept for all steps.

        Ã keeps each pixel with probability (1 − p)(1 − delta); it is drawn once from
        `generator` after the start noise, and the shared solver runs on h(Ã·x, Ã; σ),
        clipped to [-1, 1] at every step when ``clip_denoised`` (the official ``eval.py``).
        """
        device = next(net.parameters()).device
        cfg = self.config.sampler
        h = w = net.resolution
        x = cfg.sigma_max * randn((n, net.channels, h, w), generator=generator, device=device)
        u = torch.rand((n, 1, h, w), generator=generator, device=generator.device)
        shown = (u < self.survival).float().to(device)
        self._last_shown = shown
        precond, clip = self.spec.mask_precond, self.spec.clip_denoised

        def denoise(x_: Tensor, s: Tensor) -> Tensor:
            x0 = masked_denoise(net, x_, s, shown, mask_precond=precond)
            return x0.clamp(-1.0, 1.0) if clip else x0

        return sample_from_config(denoise, x, cfg, generator)

    def sample_metrics(self, samples: Tensor) -> dict[str, float]:
        """``holes_contrast`` of the last samples against their own masks Ã (about 1 when
        the erased positions leave no trace; see :mod:`ambientsweep.metrics.holes`)."""
        shown = self._last_shown
        if shown is None or len(shown) != len(samples) or bool(shown.all()) or not shown.any():
            return {}
        return {names.HOLES_CONTRAST: holes_contrast(samples, shown)}

    def tags(self) -> dict[str, str]:
        return {
            "ambient.naive": "true" if self.spec.delta == 0 else "false",
            "ambient.redraw_delta": str(self.spec.redraw_delta).lower(),
            "ambient.survival": f"{self.survival:.4g}",
            "ambient.mask_precond": self.spec.mask_precond,
            "ambient.clip_denoised": str(self.spec.clip_denoised).lower(),
        }
