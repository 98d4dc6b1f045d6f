"""The ``edm`` method's spec (torch-free): plain EDM and the papers' baselines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ambientsweep.methods.spec import MethodSpecBase, split_suffixes
from ambientsweep.utils.frozen import Fraction, Probability

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.edm.method import Edm


class EdmSpec(MethodSpecBase):
    """Plain EDM (Karras et al. 2022); also the papers' baselines on the same data split."""

    kind: Literal["edm"] = "edm"
    train_on: Literal["clean", "clean_fraction", "noisy", "masked"] = "clean"
    clean_fraction: Fraction = 0.1  # train_on=clean_fraction|noisy: the SFBD split
    sigma: float = Field(0.5, ge=0.0)  # train_on=noisy: noise std of the observations
    p: Probability = 0.5  # train_on=masked: erase probability of the observations

    def memorization_suffixes(self, config: TrialConfig) -> tuple[str, ...]:
        """All training images; also the split's parts when training on one of them."""
        if self.train_on in ("clean_fraction", "noisy"):
            return ("", *split_suffixes(config, self.clean_fraction))
        return ("",)

    @classmethod
    def method_class(cls) -> type[Edm]:
        from ambientsweep.methods.edm.method import Edm

        return Edm
