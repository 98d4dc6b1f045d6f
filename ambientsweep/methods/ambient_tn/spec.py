"""The ``ambient_tn`` method's spec (torch-free): the noise cutoff and the weighting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from ambientsweep.methods.spec import MethodSpecBase
from ambientsweep.utils.frozen import Probability

if TYPE_CHECKING:
    from ambientsweep.methods.ambient_tn.method import AmbientTn


class AmbientTnSpec(MethodSpecBase):
    """High-noise ambient training (Shah, Kalavasis, Klivans, Daras 2025)."""

    kind: Literal["ambient_tn"] = "ambient_tn"
    sigma_tn: float | None = Field(None, ge=0.0)  # noise cutoff as a noise std ...
    tn_quantile: Probability | None = None  # ... or as the share of training sigmas below it
    weighting: Literal["edm", "x0"] = "edm"  # edm = paper code; x0 = ambient-utils README
    fixed_noise: bool = True  # x_tn noise frozen per image (paper scripts)

    @model_validator(mode="after")
    def _one_cutoff(self) -> AmbientTnSpec:
        if (self.sigma_tn is None) == (self.tn_quantile is None):
            raise ValueError("give exactly one of method.sigma_tn and method.tn_quantile")
        return self

    @classmethod
    def method_class(cls) -> type[AmbientTn]:
        from ambientsweep.methods.ambient_tn.method import AmbientTn

        return AmbientTn
