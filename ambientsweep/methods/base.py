"""The method plug-in contract: train sets, batches, phases, the Method protocol and defaults.

A method is a loss on a typed :class:`Batch`, the corruption that builds its train sets, and
(for SFBD) a list of :class:`Phase` objects the shared Trainer runs in order. Its spec and
registration live torch-free in ``methods/<kind>/spec.py`` and ``methods/registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import torch
from torch import Tensor

from ambientsweep.sampling.solvers import randn, sample_from_config

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.models.precond import Denoiser


# ----------------------------------------------------------------------------------------------
# Data the methods see.


@dataclass(frozen=True)
class Batch:
    """One minibatch drawn from a :class:`TrainSet` (same fields, B rows)."""

    x: Tensor  # [B,C,H,W] observations
    index: Tensor  # [B] image ids
    mask: Tensor | None = None  # [B,1,H,W] A, 1 = observed
    sigma_n: Tensor | None = None  # [B] noise std already present in x


@dataclass(frozen=True)
class TrainSet:
    """What a method trains on. There is NO field for clean originals of corrupted images."""

    x: Tensor  # [N,C,H,W] observations (clean images for clean training)
    index: Tensor  # [N] image ids
    mask: Tensor | None = None  # [N,1,H,W] A, 1 = observed
    sigma_n: Tensor | None = None  # [N] noise std already present in x

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, rows: Tensor) -> Batch:
        """The rows `rows` (positions, not ids) as a :class:`Batch`."""
        return Batch(
            x=self.x[rows],
            index=self.index[rows],
            mask=None if self.mask is None else self.mask[rows],
            sigma_n=None if self.sigma_n is None else self.sigma_n[rows],
        )

    def to(self, device: torch.device | str) -> TrainSet:
        return TrainSet(*(None if t is None else t.to(device) for t in self._fields()))

    def _fields(self) -> tuple[Tensor | None, ...]:
        return (self.x, self.index, self.mask, self.sigma_n)

    def state_dict(self) -> dict[str, Tensor]:
        """Tensors only (for ``torch.load(weights_only=True)`` checkpoints)."""
        names = ("x", "index", "mask", "sigma_n")
        return {k: v.cpu() for k, v in zip(names, self._fields(), strict=True) if v is not None}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor]) -> TrainSet:
        return cls(state["x"], state["index"], state.get("mask"), state.get("sigma_n"))


@dataclass(frozen=True)
class CorruptionInput:
    """The clean training images, given to a method ONLY to build its train sets."""

    x: Tensor  # [N,C,H,W] clean originals of the training subset, in [-1, 1]
    index: Tensor  # [N] stable image ids (key the frozen per-image masks and noise)

    @classmethod
    def from_splits(cls, splits: Any) -> CorruptionInput:
        """From ``ambientsweep.data.datasets.Splits`` (its ``train`` and ``train_index``)."""
        return cls(x=splits.train, index=splits.train_index)


def rows_of(ids: Tensor, index: Tensor, who: str) -> Tensor:
    """Positions of the image ids `index` in the sorted id table `ids` (per-image frozen draws).

    Raises:
        KeyError: an id of `index` is not in the table.
    """
    ids = ids.to(index.device)
    pos = torch.searchsorted(ids, index).clamp_max(len(ids) - 1)
    if not torch.equal(ids[pos], index):
        raise KeyError(f"batch holds image ids that are not in the {who} train set")
    return pos


def clean_noisy_split(n: int, clean_fraction: float) -> tuple[Tensor, Tensor]:
    """(clean_positions, noisy_positions): the first round(clean_fraction * n) images are clean.

    The training subset is already a seeded permutation, so a prefix is a random split; the
    same split is used by ``edm`` (train_on=clean_fraction|noisy) and ``sfbd``.
    """
    m = min(n, max(0, round(clean_fraction * n)))
    positions = torch.arange(n)
    return positions[:m], positions[m:]


# ----------------------------------------------------------------------------------------------
# Phases and what an action phase gets.


@dataclass
class ActionContext:
    """What an action phase (e.g. SFBD's backward step) may use and change."""

    net: Denoiser  # the current EMA denoiser, eval mode
    method: Method
    device: torch.device
    generator: torch.Generator  # randomness of this action, keyed by the phase name
    train_sets: Mapping[str, TrainSet]  # current named train sets (read-only view)
    replace_train_set: Callable[[str, TrainSet], None]  # install a (new) named train set
    on_denoised: Callable[[TrainSet, int], dict[str, float]]  # hooks.on_denoised, then report
    phase: Phase | None = None


@dataclass(frozen=True)
class Phase:
    """One step of a method's schedule; the Trainer runs them in order."""

    name: str  # "fit", "pretrain", "denoise1", "fit1", ...
    kind: Literal["fit", "action"]
    kimg: float = 0.0  # fit phases: images seen (thousands)
    data: str = "train"  # fit phases: key into the method's named train sets
    round: int | None = None  # SFBD round number for metrics
    # fit phases: start from the EMA weights with a fresh optimizer and learning-rate ramp (as
    # EDM's --transfer, which SFBD's official rounds use) instead of continuing the raw weights
    from_ema: bool = False
    action: Callable[[ActionContext], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "fit" and self.kimg <= 0:
            raise ValueError(f"fit phase {self.name!r} needs kimg > 0")
        if self.kind == "action" and self.action is None:
            raise ValueError(f"action phase {self.name!r} needs an action")
        if self.kind == "action" and self.from_ema:
            raise ValueError(f"action phase {self.name!r} cannot start from the EMA (fit only)")


# ----------------------------------------------------------------------------------------------
# The protocol, a base class with the defaults, and the registry.


@runtime_checkable
class Method(Protocol):
    """A training method plugged into the shared Trainer."""

    kind: str  # the spec's YAML kind
    extra_channels: int  # extra input channels the backbone needs (Ambient: 1 mask channel)
    #: None when ``sample`` integrates the plain denoiser D(x; sigma) (what ``ambientsweep
    #: commitment`` records); otherwise why it cannot (Ambient samples through masks).
    sampler_note: str | None
    config: TrialConfig

    def train_sets(self, view: CorruptionInput) -> dict[str, TrainSet]:
        """Build the named train sets (corruption happens here). Called once per trial."""
        ...

    def loss(self, net: Denoiser, batch: Batch, generator: torch.Generator) -> Tensor:
        """Per-sample loss [B], averaged over pixels; all randomness from `generator`."""
        ...

    def phases(self) -> list[Phase]:
        """The schedule the Trainer runs."""
        ...

    def sample(self, net: Denoiser, n: int, generator: torch.Generator) -> Tensor:
        """`n` samples [n,C,H,W] from the (EMA) denoiser."""
        ...

    def tags(self) -> dict[str, str]:
        """String facts about the method for tracking, e.g. {"ambient.naive": "true"}."""
        ...

    def total_kimg(self) -> float:
        """Images (thousands) a full-budget trial trains on: the sum over its fit phases
        (equal to ``spec.budget_kimg(config)``, the torch-free form)."""
        ...

    def planned_sampling(self, n_train: int) -> list[tuple[float, float]]:
        """For ``ambientsweep plan``: (images, share of a sampling trajectory) per action."""
        ...

    def sample_metrics(self, samples: Tensor) -> dict[str, float]:
        """Metrics that need what the last sample() call drew, e.g. Ambient's masks."""
        ...

    def memorization_sets(self) -> dict[str, Tensor]:
        """Suffix -> image ids the memorization ratio test is run against ("" = all)."""
        ...


class MethodBase:
    """Defaults: one fit phase of ``train.kimg``, Heun sampling from sigma_max, all ids."""

    extra_channels: int = 0
    sampler_note: ClassVar[str | None] = None

    def __init__(self, spec: Any, config: TrialConfig) -> None:
        self.spec = spec
        self.config = config
        self._train_index: Tensor | None = None  # set by train_sets(); ids of the subset

    @property
    def kind(self) -> str:
        return str(self.spec.kind)

    def train_sets(self, view: CorruptionInput) -> dict[str, TrainSet]:
        self._train_index = view.index.clone()
        return {"train": TrainSet(x=view.x.clone(), index=view.index.clone())}

    def loss(self, net: Denoiser, batch: Batch, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        return [Phase("fit", "fit", kimg=self.config.train.kimg)]

    def total_kimg(self) -> float:
        return sum(p.kimg for p in self.phases() if p.kind == "fit")

    def planned_sampling(self, n_train: int) -> list[tuple[float, float]]:
        """No action phase samples anything by default."""
        return []

    def sample(self, net: Denoiser, n: int, generator: torch.Generator) -> Tensor:
        device = next(net.parameters()).device
        shape = (n, net.channels, net.resolution, net.resolution)
        x = self.config.sampler.sigma_max * randn(shape, generator=generator, device=device)
        return sample_from_config(lambda x_, s: net(x_, s), x, self.config.sampler, generator)

    def tags(self) -> dict[str, str]:
        return {}

    def sample_metrics(self, samples: Tensor) -> dict[str, float]:
        """Method-specific metrics of the samples of the last :meth:`sample` call (none)."""
        return {}

    def memorization_sets(self) -> dict[str, Tensor]:
        if self._train_index is None:
            raise RuntimeError("memorization_sets() is known only after train_sets()")
        return {"": self._train_index}

