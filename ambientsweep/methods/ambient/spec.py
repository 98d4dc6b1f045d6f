"""The ``ambient`` method's spec (torch-free): Ambient Diffusion's erasure probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ambientsweep.methods.spec import MethodSpecBase
from ambientsweep.utils.frozen import Probability

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.ambient.method import Ambient
    from ambientsweep.metrics.reported import When


class AmbientSpec(MethodSpecBase):
    """Ambient Diffusion (Daras et al., NeurIPS 2023): train on images with erased pixels."""

    kind: Literal["ambient"] = "ambient"
    p: Probability = 0.4  # probability that a pixel of a training image is erased (mask A)
    delta: Probability = 0.1  # further erasure of surviving pixels (mask B, A~ = B*A)
    redraw_delta: bool = False  # redraw B every step (paper) instead of once per image (code)
    # The mask channel of the network input: scaled by c_in with the image (official EDMPrecond)
    # or fed at amplitude 1 (this project before issue 18; kept for the ablation).
    mask_precond: Literal["c_in", "unscaled"] = "c_in"
    clip_denoised: bool = True  # fixed-mask sampler: x0 prediction clipped to [-1, 1] each step

    # What a stored config without these fields was trained and sampled with (checkpoints from
    # before the fields existed): loading fills these in, never the new defaults.
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {
        "mask_precond": "unscaled",
        "clip_denoised": False,
    }

    def reported_metrics(self, config: TrialConfig, evaluations: When) -> dict[str, When]:
        """``holes_contrast`` at every evaluation when some pixels are erased (survival
        (1 - p)(1 - delta) below 1; ``Ambient.sample_metrics``)."""
        from ambientsweep.metrics.names import HOLES_CONTRAST

        survival = (1.0 - self.p) * (1.0 - self.delta)
        return {HOLES_CONTRAST: evaluations} if survival < 1.0 else {}

    @classmethod
    def method_class(cls) -> type[Ambient]:
        from ambientsweep.methods.ambient.method import Ambient

        return Ambient
