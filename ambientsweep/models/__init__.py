"""Denoisers: EDM preconditioning around a small backbone."""

from ambientsweep.models.backbones import MLP, UNet, build_backbone
from ambientsweep.models.precond import Denoiser, build_denoiser, edm_scalings

__all__ = ["MLP", "Denoiser", "UNet", "build_backbone", "build_denoiser", "edm_scalings"]
