"""Datasets, their splits, and per-image frozen corruptions."""

from ambientsweep.data.corruption import erase_mask, gaussian_noise
from ambientsweep.data.datasets import Splits, load_splits

__all__ = ["Splits", "erase_mask", "gaussian_noise", "load_splits"]
