"""The ``sfbd`` method's spec (torch-free): the split, the noise, the rounds and their budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from ambientsweep.methods.spec import MethodSpecBase, split_suffixes
from ambientsweep.utils.frozen import Fraction

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.sfbd.method import Sfbd
    from ambientsweep.metrics.reported import When


class SfbdSpec(MethodSpecBase):
    """SFBD (Lu, Wu, Yu, ICML 2025): clean pretraining, then K forward-backward rounds."""

    kind: Literal["sfbd"] = "sfbd"
    clean_fraction: Fraction = 0.1  # share of the training images that stay clean
    sigma: float = Field(0.5, gt=0.0)  # noise std of the noisy images (frozen per image)
    rounds: int = Field(2, ge=0)  # K
    pretrain_kimg: float = Field(96.0, gt=0.0)  # training on the clean fraction
    round_kimg: float = Field(48.0, gt=0.0)  # fine-tuning per round on the denoised set
    denoise_steps: int = Field(18, ge=2)  # points of the full grid; the part below sigma is used
    stochastic: bool = False  # SDE backward step (paper) instead of the ODE (code)
    # SDE backward step only: solver steps from sigma down to 0 on its own Karras grid spanning
    # [sampler.sigma_min, sigma] (NOT points of the full grid); denoise_steps is the ODE's grid.
    sde_steps: int = Field(32, ge=2)
    sde_solver: Literal["heun", "euler_maruyama"] = "heun"  # stochastic Heun: weak order 2
    # Each round starts from: the EMA weights with a fresh Adam and lr ramp (the official
    # --transfer, "ema"; the default since issue 21, REPRODUCTION.md section 2), or the raw
    # weights with Adam's state and the lr kept ("raw"; the default before).
    transfer: Literal["raw", "ema"] = "ema"
    union: bool = False  # fit on denoised + clean (official README) instead of denoised only
    denoise_images: int | None = Field(None, ge=1)  # cap on noisy images denoised per round

    # SFBD's budget is its own (train.kimg is not read): one short round for --smoke.
    smoke_overrides: ClassVar[dict[str, Any]] = {
        "method.pretrain_kimg": 0.64, "method.round_kimg": 0.32, "method.rounds": 1,
        "method.denoise_steps": 6, "method.sde_steps": 4,
    }

    def budget_kimg(self, config: TrialConfig) -> float:
        """Pretraining plus K rounds of fine-tuning (the fit phases of ``Sfbd.phases``)."""
        return self.pretrain_kimg + self.rounds * self.round_kimg

    def memorization_suffixes(self, config: TrialConfig) -> tuple[str, ...]:
        """All training images, the clean ones and the noisy ones' hidden originals."""
        return ("", *split_suffixes(config, self.clean_fraction))

    def evaluates_per_round(self, config: TrialConfig) -> bool:
        """After pretraining and every round but the last (``Sfbd.phases``)."""
        return self.rounds >= 1

    def reported_metrics(self, config: TrialConfig, evaluations: When) -> dict[str, When]:
        """``psnr_denoised`` after every backward step (one per round)."""
        from ambientsweep.metrics.names import PSNR_DENOISED
        from ambientsweep.metrics.reported import When

        return {PSNR_DENOISED: When.ROUND} if self.rounds >= 1 else {}

    @classmethod
    def method_class(cls) -> type[Sfbd]:
        from ambientsweep.methods.sfbd.method import Sfbd

        return Sfbd
