"""Plain EDM (Karras et al. 2022): the spec here (torch-free); the class in `method`."""

from ambientsweep.methods.edm.spec import EdmSpec

__all__ = ["EdmSpec"]
