"""The ``ambient`` method's spec (torch-free): Ambient Diffusion's erasure probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ambientsweep.methods.spec import MethodSpecBase
from ambientsweep.utils.frozen import Probability

if TYPE_CHECKING:
    from ambientsweep.methods.ambient.method import Ambient


class AmbientSpec(MethodSpecBase):
    """Ambient Diffusion (Daras et al., NeurIPS 2023): train on images with erased pixels."""

    kind: Literal["ambient"] = "ambient"
    p: Probability = 0.4  # probability that a pixel of a training image is erased (mask A)
    delta: Probability = 0.1  # further erasure of surviving pixels (mask B, A~ = B*A)
    redraw_delta: bool = False  # redraw B every step (paper) instead of once per image (code)

    @classmethod
    def method_class(cls) -> type[Ambient]:
        from ambientsweep.methods.ambient.method import Ambient

        return Ambient
