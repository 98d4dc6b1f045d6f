"""Which metrics a trial of a config reports, and when: asked before anything starts.

:func:`reported_metrics` answers "which metric keys will this trial report, at which moments"
from the config alone (no data, no training). It combines the two parts that produce metrics:

- the evaluation (:func:`evaluation_metrics`): fidelity in ``eval.features`` (+ a pixel-space
  sanity check on small images), memorization in every space the evaluator computes against
  every training set the method names (its spec's ``memorization_suffixes``), the digits CNN's
  ``classifier_accuracy``/``conf90``; reported at each evaluation of the method's schedule
  (``eval.every_kimg``, and after every round when the spec's ``evaluates_per_round``);
- the method (its spec's ``reported_metrics``): e.g. SFBD's ``psnr_denoised`` after every
  backward step, Ambient's ``holes_contrast`` at every evaluation;
- the trainer: ``loss`` every ``train.log_every_kimg``.

Used by ``validate``/``plan``/``run`` to reject objectives no trial would report
(:func:`objective_problems`); an early-stopping check needs the same answer restricted to
:data:`DURING_TRAINING` (``objective_problems([metric], config, need=DURING_TRAINING)``).
Torch-free, like ``validate``; ``tests/metrics/test_reported.py`` checks every answer against
the keys real trials report.
"""

from __future__ import annotations

from enum import Flag, auto
from typing import TYPE_CHECKING

from ambientsweep.metrics import names

if TYPE_CHECKING:
    from ambientsweep.config import EvalConfig, TrialConfig

PIXEL_SANITY_MAX_VALUES = 1024  # fd_pixels / kid_pixels beside other features up to this C*H*W


class When(Flag):
    """Moments a metric is reported (combine with ``|``)."""

    NEVER = 0
    TRAIN = auto()  # every train.log_every_kimg during training (and at each phase end)
    EVAL = auto()  # at every intermediate evaluation (eval.every_kimg)
    ROUND = auto()  # after each round of a multi-round method (SFBD: each backward step / fit)
    END = auto()  # with the final metrics of a trial that trained its full budget


DURING_TRAINING = When.TRAIN | When.EVAL | When.ROUND  # what an early-stopping scheduler sees

# Native image shapes (channels, side) before data.resolution; None = known only from the files.
NATIVE_SHAPE: dict[str, tuple[int, int] | None] = {
    "digits": (1, 8), "mnist": (1, 28), "fashion_mnist": (1, 28), "cifar10": (3, 32),
    "imagefolder": None,
}


def evaluation_times(config: TrialConfig) -> When:
    """When the trial evaluates: at the end, every ``eval.every_kimg``, at round ends (the
    method says: ``spec.evaluates_per_round``)."""
    when = When.END
    every = config.eval.every_kimg
    if every is not None and every < config.total_kimg:
        when |= When.EVAL
    if config.method.evaluates_per_round(config):
        when |= When.ROUND
    return when


def image_values(config: TrialConfig) -> int | None:
    """C*H*W of the trial's images when the config fixes them (None: known from the files)."""
    native = NATIVE_SHAPE.get(config.data.name)
    side = config.data.resolution or (native[1] if native else None)
    if side is None:
        return None
    channels = native[0] if native else 1  # imagefolder: gray or RGB; assume the smaller
    return channels * side * side


def pixel_sanity(cfg: EvalConfig, image_values: int | None) -> bool:
    """Whether fd_pixels / kid_pixels are computed besides ``cfg.features`` (the Evaluator
    asks this too; None = image size known only from the files, counted as small)."""
    return cfg.features != "pixels" and (
        image_values is None or image_values <= PIXEL_SANITY_MAX_VALUES
    )


def evaluation_metrics(cfg: EvalConfig, image_values: int | None,
                       suffixes: tuple[str, ...]) -> list[str]:
    """The keys one evaluation reports (what ``metrics.evaluate.Evaluator`` computes), from
    the settings alone; ``suffixes`` name the memorization target sets."""
    spaces = ([] if cfg.features == "pixels" else ["pixels"]) + [cfg.features]
    if cfg.dinov2:
        spaces.append("dinov2")
    fidelity = (["pixels"] if pixel_sanity(cfg, image_values) else []) + [cfg.features]
    keys = [k for s in fidelity for k in (names.fd_key(s), names.kid_key(s))]
    if cfg.features == "digits_cnn":
        keys += [names.CONF90, names.CLASSIFIER_ACCURACY]
    keys += [names.mem_key(kind, space, suffix) for suffix in suffixes for space in spaces
             for kind in names.MEM_KINDS]
    return keys


def reported_metrics(config: TrialConfig) -> dict[str, When]:
    """Metric key -> when a trial of `config` reports it (only keys it reports at all).

    Torch-free: the method answers through its spec's hooks (``memorization_suffixes``,
    ``reported_metrics``, ``evaluates_per_round``; see ``methods/spec.py``).
    """
    spec = config.method
    evals = evaluation_times(config)
    out: dict[str, When] = {names.LOSS: When.TRAIN}
    for key in evaluation_metrics(config.eval, image_values(config),
                                  spec.memorization_suffixes(config)):
        out[key] = out.get(key, When.NEVER) | evals
    for key, when in spec.reported_metrics(config, evals).items():
        out[key] = out.get(key, When.NEVER) | when
    return {k: v for k, v in out.items() if v}


def why_not_reported(metric: str, config: TrialConfig) -> str:
    """A sentence on why `metric` is not among ``reported_metrics(config)`` and what would."""
    kind = config.method.kind
    base = metric
    for suffix in ("_clean", "_noisy"):
        if metric.endswith(suffix):
            base = metric.removesuffix(suffix)
            if base == names.PSNR_DENOISED:
                return f"{metric} is never reported; SFBD reports {names.PSNR_DENOISED}"
            return (f"method {kind!r} with these settings has no separate clean and noisy "
                    f"training sets (they exist for sfbd and for edm with train_on "
                    f"clean_fraction or noisy; each needs at least 2 images); use {base}")
    if metric == names.PSNR_DENOISED:
        return ("only SFBD with method.rounds >= 1 reports it (the PSNR of its denoised "
                f"training images); method is {kind!r}")
    if metric == names.HOLES_CONTRAST:
        return f"only the ambient method with erased pixels reports it; method is {kind!r}"
    if metric in (names.CLASSIFIER_ACCURACY, names.CONF90):
        return f"only eval.features: digits_cnn reports it (eval.features is " \
               f"{config.eval.features!r})"
    for space in names.FEATURE_SPACES:
        if base.endswith("_" + space):
            if space == "dinov2":
                return "the DINOv2 space is computed only with eval.dinov2: true"
            if space == "pixels":
                return ("the pixel-space fidelity sanity check is computed only when "
                        "eval.features is not pixels and an image has at most 1,024 values")
            return (f"the evaluation computes the {config.eval.features!r} feature space "
                    f"(eval.features), not {space!r}")
    return "no part of this trial reports it"


def objective_problems(metrics: list[str], config: TrialConfig,
                       need: When = ~When.NEVER) -> list[tuple[int, str]]:
    """(index, message) for each metric in `metrics` that `config` never reports at `need`."""
    reported = reported_metrics(config)
    out = []
    for i, metric in enumerate(metrics):
        if not reported.get(metric, When.NEVER) & need:
            out.append((i, f"{metric!r} is not reported by this sweep's trials: "
                           f"{why_not_reported(metric, config)}"))
    return out
