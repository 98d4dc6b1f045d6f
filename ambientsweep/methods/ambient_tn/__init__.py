"""High-noise ambient training (Shah et al. 2025): the spec here; the class in `method`."""

from ambientsweep.methods.ambient_tn.spec import AmbientTnSpec

__all__ = ["AmbientTnSpec"]
