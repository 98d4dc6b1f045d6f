"""The resolved configuration of one trial: typed, frozen, hashable.

A sweep (``ambientsweep.spec``) produces one :class:`TrialConfig` per trial from a base file
under ``configs/`` plus dotted overrides. Everything downstream (trainer, methods, metrics)
receives this object, never a dict.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from ambientsweep.methods import MethodSpec, default_spec, rebuild_on_change
from ambientsweep.metrics.names import FidelitySpace
from ambientsweep.utils.frozen import Fraction
from ambientsweep.utils.frozen import Frozen as _Frozen

# ----------------------------------------------------------------------------------------------
# Data, model, optimisation, sampling, evaluation.


class DataConfig(_Frozen):
    name: Literal["digits", "mnist", "fashion_mnist", "cifar10", "imagefolder"] = "digits"
    root: Path | None = None  # folder of torchvision files or images (not for digits)
    download: bool = False  # torchvision datasets only; never implicit
    resolution: int | None = Field(None, ge=4, le=256)  # None = native size of the dataset
    train_size: int | None = Field(None, ge=2)  # N training images (first N of the seeded pool)
    train_fraction: Fraction | None = None  # or a fraction of the pool; not both
    reference_size: int = Field(500, ge=10)  # held-out fidelity reference split
    # Images that train the fidelity feature classifier, fixed by split_seed and disjoint from
    # the reference split and from every training subset (so a copier is not favoured by
    # features fitted on its training images). None = train it on the whole pool.
    classifier_size: int | None = Field(500, ge=10)
    split_seed: int = 0  # fixes the reference split for all trials of all sweeps

    @model_validator(mode="after")
    def _one_size(self) -> DataConfig:
        if self.train_size is not None and self.train_fraction is not None:
            raise ValueError("give data.train_size or data.train_fraction, not both")
        if self.name == "imagefolder" and self.root is None:
            raise ValueError("data.root is required for the imagefolder dataset")
        return self


class ModelConfig(_Frozen):
    backbone: Literal["unet", "mlp"] = "unet"
    channels: int = Field(32, ge=4)  # base channel count of the UNet
    channel_mult: tuple[int, ...] = (1, 2)  # one entry per resolution level
    num_blocks: int = Field(1, ge=1)  # residual blocks per level
    emb_dim: int = Field(256, ge=8)  # width of the noise-level embedding
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    mlp_hidden: int = Field(256, ge=8)  # tiny MLP backbone (tests)
    mlp_layers: int = Field(4, ge=2)
    sigma_data: float = Field(0.5, gt=0.0)  # EDM sigma_d


class TrainConfig(_Frozen):
    kimg: float = Field(192.0, gt=0.0)  # training length in thousands of images seen
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    lr_rampup_kimg: float = Field(12.8, ge=0.0)  # linear warm-up of the learning rate
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    grad_clip: float | None = Field(None, gt=0.0)  # max global grad norm; None = off
    # The cap of the EMA decay. With the warm-up the decay after step s is min(ema_decay,
    # (1 + s) / (10 + s)), which reaches 0.999 only after ~9k steps: at 2k steps it is 0.9955
    # (a half-life of ~150 steps), at 6k 0.9985.
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)
    ema_warmup: bool = True  # decay = min(ema_decay, (1 + s) / (10 + s))
    p_mean: float = -1.2  # EDM log-normal training noise: ln sigma ~ N(p_mean, p_std^2)
    p_std: float = Field(1.2, gt=0.0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 autocast applies on CUDA only
    compile: bool = False  # torch.compile the backbone (CUDA)
    num_threads: int | None = Field(None, ge=1)  # torch CPU threads; None = leave as is
    gpu_memory_fraction: float | None = Field(None, gt=0.0, le=1.0)  # when trials share a GPU
    checkpoint_every_kimg: float | None = Field(None, gt=0.0)  # None = only at the end
    # Checkpoint cadence that does not change what is trained (resume is exact), so outside
    # the config hash: at every intermediate evaluation and at least every N minutes.
    checkpoint_at_eval: bool = True
    checkpoint_every_minutes: float | None = Field(5.0, gt=0.0)  # None = no time-based ones
    log_every_kimg: float = Field(6.4, gt=0.0)  # how often the training loss is reported


class SamplerConfig(_Frozen):
    solver: Literal["heun", "euler"] = "heun"
    steps: int = Field(18, ge=2)  # points of the Karras grid (Heun: 2*steps-1 evaluations)
    sigma_min: float = Field(0.002, gt=0.0)
    sigma_max: float = Field(80.0, gt=0.0)
    rho: float = Field(7.0, gt=0.0)
    churn: float = Field(0.0, ge=0.0)  # EDM S_churn; 0 = deterministic ODE
    s_tmin: float = Field(0.0, ge=0.0)
    s_tmax: float = float("inf")
    s_noise: float = Field(1.0, gt=0.0)
    clip: bool = True  # clamp final samples to [-1, 1] before metrics

    @model_validator(mode="after")
    def _range(self) -> SamplerConfig:
        if self.sigma_min >= self.sigma_max:
            raise ValueError("sampler.sigma_min must be below sampler.sigma_max")
        return self


class EvalConfig(_Frozen):
    num_samples: int = Field(500, ge=10)  # generated samples per evaluation
    every_kimg: float | None = Field(None, gt=0.0)  # intermediate evaluations; final always
    features: FidelitySpace = "digits_cnn"  # fidelity space (metrics.names.FIDELITY_SPACES)
    dinov2: bool = False  # also top-1 similarity in DINOv2 space (weights must be cached)
    ratio_threshold: float = Field(1 / 3, gt=0.0, lt=1.0)  # memorized if d1 < t * d2
    sim_threshold: float = Field(0.95, gt=0.0, le=1.0)  # mem_sim_frac_*: top-1 cosine > this
    gallery_size: int = Field(16, ge=0)  # most-copied samples shown in the gallery
    save_images: bool = True  # sample grid, gallery, histogram PNGs


class TrialConfig(_Frozen):
    """Everything one trial needs. Data randomness is keyed by (seed, replicate, image index)."""

    seed: int = 0  # the sweep seed
    replicate: int = Field(0, ge=0)  # seed replicate; same data split logic, other draws
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    sampler: SamplerConfig = SamplerConfig()
    eval: EvalConfig = EvalConfig()
    # Any registered method spec, chosen by its `kind` (ambientsweep.methods.registry).
    method: MethodSpec = default_spec()

    @property
    def total_kimg(self) -> float:
        """Images a full-budget trial trains on (thousands), over all its phases.

        The method says it (its spec's ``budget_kimg``, equal to its fit phases; torch-free).
        """
        return self.method.budget_kimg(self)

    def config_hash(self) -> str:
        """Stable hash of the experiment (seed and replicate included), not of the machine.

        The execution-only fields (:data:`EXECUTION_ONLY`: threads, device, data root, ...)
        are left out, so the same configuration gets the same hash, and hence the same
        initialisation and training seeds, wherever it runs.
        """
        return _hash(experiment_dict(self))

    def group_id(self) -> str:
        """Hash without the replicate: seed replicates of one configuration share it."""
        d = experiment_dict(self)
        d.pop("replicate", None)
        return _hash(d)


# Fields that say where and how a trial runs, not what it trains: excluded from config_hash
# and the seeds derived from it. (A different thread count or device still changes float
# rounding, which training amplifies; README "Running elsewhere".) The data root names where
# the dataset's files are, not which dataset: `data.name` (and the files) say that.
EXECUTION_ONLY: tuple[str, ...] = (
    "data.root",
    "data.download",
    "train.device",
    "train.compile",
    "train.num_threads",
    "train.gpu_memory_fraction",
    "train.checkpoint_every_kimg",
    "train.checkpoint_at_eval",
    "train.checkpoint_every_minutes",
    "train.log_every_kimg",
    "eval.save_images",
    "eval.gallery_size",
)


def experiment_dict(config: TrialConfig) -> dict[str, Any]:
    """The config as JSON-able data without the :data:`EXECUTION_ONLY` fields."""
    d = config.model_dump(mode="json")
    for dotted in EXECUTION_ONLY:
        *parents, leaf = dotted.split(".")
        node = d
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return d


def _hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


rebuild_on_change(TrialConfig)
