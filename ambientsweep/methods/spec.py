"""What every method spec is: a frozen pydantic model with a ``kind`` and a few class hooks.

Torch-free on purpose: specs are imported by ``ambientsweep.config`` and by the light CLI path
(``validate``, ``schema``); the method's torch class is imported only when a trial builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ambientsweep.utils.frozen import Frozen

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.base import MethodBase
    from ambientsweep.metrics.reported import When


def split_suffixes(config: TrialConfig, clean_fraction: float) -> tuple[str, ...]:
    """``_clean`` / ``_noisy`` for the parts of the clean/noisy split (``clean_noisy_split``:
    the first round(clean_fraction * n) images) with at least 2 images, which the ratio test
    needs; both when the size is known only from the data (train_fraction or the pool)."""
    n = config.data.train_size
    if n is None:
        return ("_clean", "_noisy")
    m = min(n, max(0, round(clean_fraction * n)))
    return tuple(s for s, size in (("_clean", m), ("_noisy", n - m)) if size >= 2)


class MethodSpecBase(Frozen):
    """Base of the ``method:`` section of a trial config; one subclass per YAML ``kind``.

    A subclass declares ``kind: Literal["<kind>"] = "<kind>"``, its fields, and
    :meth:`method_class`; ``ambientsweep/methods/__init__.py`` registers it.
    """

    kind: str

    #: Dotted keys that `ambientsweep run --smoke` sets on top of the generic tiny budget, for
    #: the method's own budget fields (e.g. SFBD's pretraining and round lengths).
    smoke_overrides: ClassVar[dict[str, Any]] = {}

    #: Fields added after checkpoints existed, with the value a stored config that lacks them
    #: was made with (the old behaviour). ``training.checkpoint`` fills these in when it loads
    #: such a config, never the new defaults, and records their values in every checkpoint.
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {}

    def budget_kimg(self, config: TrialConfig) -> float:
        """Images (thousands) a full-budget trial trains on, without building the method.

        Must equal the sum of the method's fit phases (``MethodBase.total_kimg``; the
        conformance suite checks it): the driver reads it torch-free for early stopping.
        """
        return config.train.kimg

    # -- what the method reports, and when (ambientsweep.metrics.reported; torch-free) --------

    def memorization_suffixes(self, config: TrialConfig) -> tuple[str, ...]:
        """Suffixes of the memorization target sets the method will name ("" = all its
        training images; ``_clean`` / ``_noisy`` for a split), known from the config."""
        return ("",)

    def evaluates_per_round(self, config: TrialConfig) -> bool:
        """Whether the trial evaluates after every round (besides ``eval.every_kimg`` and the
        end): true when the method's schedule has fit phases with a round, before the last."""
        return False

    def reported_metrics(self, config: TrialConfig, evaluations: When) -> dict[str, When]:
        """Metrics the method reports itself (not the evaluator's, not the loss) and when;
        `evaluations` = when the trial evaluates."""
        return {}

    @classmethod
    def method_class(cls) -> type[MethodBase]:
        """The torch class that trains this spec (imported here, lazily)."""
        raise NotImplementedError(f"{cls.__name__} does not name its method class")
