"""SFBD (Lu, Wu, Yu 2025): the spec here (torch-free); the class in `method`."""

from ambientsweep.methods.sfbd.spec import SfbdSpec

__all__ = ["SfbdSpec"]
