"""Ambient Diffusion (Daras et al. 2023): the spec here (torch-free); the class in `method`."""

from ambientsweep.methods.ambient.spec import AmbientSpec

__all__ = ["AmbientSpec"]
