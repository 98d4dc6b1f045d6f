"""Sweep files: typed, frozen, validated before anything starts."""

from ambientsweep.spec.load import SpecError, load_sweep
from ambientsweep.spec.schema import SweepSpec

__all__ = ["SpecError", "SweepSpec", "load_sweep"]
