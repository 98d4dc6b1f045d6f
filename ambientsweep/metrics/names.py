"""Metric keys shared by the trial, Ray Tune, MLflow, the Pareto code and the dashboards.

Every key is built here (DESIGN.md, "Names that bind"); no other module formats a metric name.

- Fidelity: ``fid_inception`` / ``kid_inception`` (clean-fid's Inception), and
  ``fd_<features>`` / ``kid_<features>`` in any other feature space (``fd_digits_cnn``,
  ``fd_pixels``, ...). Lower is better.
- Memorization, in a space (``pixels``, ``digits_cnn``, ``inception``, ``dinov2``):
  ``mem_ratio_<space>`` (fraction of samples memorized by the nearest-neighbour ratio test; the
  primary objective is ``mem_ratio_pixels``), ``mem_sim_p95_<space>`` (95th percentile of the
  top-1 cosine similarity), ``mem_sim_frac_<space>`` (fraction with top-1 similarity above the
  threshold), ``mem_unique_<space>`` (distinct training images copied). Lower is better.
  ``mem_d1d2_median_<space>`` (median of d1/d2) is a diagnostic; higher means less copying.
- Others: ``psnr_denoised`` (SFBD backward step, higher is better), ``loss`` (lower),
  ``classifier_accuracy`` (feature CNN on the reference split, higher), ``conf90`` (fraction of
  samples the feature CNN classifies with probability > 0.9, higher).
- Suffixes ``_clean`` / ``_noisy`` say which set a memorization metric (or ``psnr_denoised``) was
  measured against, e.g. ``mem_ratio_pixels_clean``.
- Bookkeeping reported with the metrics (no direction, never an objective): ``budget_complete``
  (1.0 once a trial trained its whole budget), ``round`` (SFBD round of a report),
  ``trial_seconds`` / ``eval_seconds``, ``kimg`` (Ray Tune's time attribute), ``diverged``; on the
  sweep's parent run ``hypervolume`` and ``front_size``; ``ambientsweep commitment``'s columns
  ``commit_sigma_median`` and ``committed_at_sigma>=<level>``.

Feature spaces come in two lists, each written once: :data:`FIDELITY_SPACES` (those with a
Fréchet/KID path, the values of ``eval.features``) and :data:`MEMORIZATION_SPACES` (those a
nearest-neighbour test can run in; DINOv2 has no Fréchet path).
"""

from __future__ import annotations

import re
from typing import Literal, get_args

__all__ = [
    "BUDGET_COMPLETE",
    "CLASSIFIER_ACCURACY",
    "COMMIT_SIGMA_MEDIAN",
    "CONF90",
    "DIRECTIONS",
    "DIVERGED",
    "EVAL_SECONDS",
    "EXTRACTOR_DIGEST",
    "FEATURE_SPACES",
    "FIDELITY_SPACES",
    "FRONT_SIZE",
    "HEADLINE_METRICS",
    "HOLES_CONTRAST",
    "HYPERVOLUME",
    "KIMG",
    "KNOWN_METRICS",
    "LOSS",
    "MEMORIZATION_SPACES",
    "MEM_KINDS",
    "MEM_RATIO_PIXELS",
    "PSNR_DENOISED",
    "ROUND",
    "SUFFIXES",
    "TRIAL_SECONDS",
    "Direction",
    "FidelitySpace",
    "committed_share_key",
    "direction",
    "fd_key",
    "feature_space_of",
    "is_known_metric",
    "kid_key",
    "mem_key",
]

Direction = Literal["min", "max"]

# Spaces with a Fréchet distance / KID path: the values ``eval.features`` accepts.
FidelitySpace = Literal["pixels", "digits_cnn", "inception"]
FIDELITY_SPACES: tuple[str, ...] = get_args(FidelitySpace)
# Spaces a memorization (nearest-neighbour) test runs in: the fidelity ones and DINOv2.
MEMORIZATION_SPACES: tuple[str, ...] = (*FIDELITY_SPACES, "dinov2")
FEATURE_SPACES: tuple[str, ...] = MEMORIZATION_SPACES  # every space some metric is named after
SUFFIXES: tuple[str, ...] = ("", "_clean", "_noisy")
MEM_KINDS: dict[str, Direction] = {
    "ratio": "min",  # fraction memorized by the ratio test d1 < t * d2
    "sim_p95": "min",  # 95th percentile of the top-1 cosine similarity
    "sim_frac": "min",  # fraction with top-1 cosine similarity above the threshold
    "unique": "min",  # distinct training images copied by the memorized samples
    "d1d2_median": "max",  # median d1/d2 (diagnostic)
}

LOSS = "loss"
PSNR_DENOISED = "psnr_denoised"
CLASSIFIER_ACCURACY = "classifier_accuracy"
CONF90 = "conf90"
HOLES_CONTRAST = "holes_contrast"  # ambient: hidden / shown local contrast (1 = no holes)

# Bookkeeping keys (no direction: never objectives).
BUDGET_COMPLETE = "budget_complete"  # 1.0 with the final metrics of a trial's whole budget
ROUND = "round"  # SFBD round the reported values belong to
TRIAL_SECONDS = "trial_seconds"  # wall time of the whole trial
EVAL_SECONDS = "eval_seconds"  # of it, time spent in evaluations
KIMG = "kimg"  # thousands of training images seen (Ray Tune's time attribute)
DIVERGED = "diverged"  # 1.0 when the trial's loss became NaN or infinite
HYPERVOLUME = "hypervolume"  # parent run: hypervolume of the sweep's front
FRONT_SIZE = "front_size"  # parent run: configurations on the front
COMMIT_SIGMA_MEDIAN = "commit_sigma_median"  # `commitment`: median commitment sigma of copies
# Trial tag and results-table column: digest of the fidelity feature extractor (eval.features)
# that made the trial's fd_/kid_/mem_*_<features>/conf90/classifier_accuracy values.
EXTRACTOR_DIGEST = "extractor_digest"


def committed_share_key(level: float) -> str:
    """`commitment` column: share of the copies decided at sigma >= ``level``."""
    return f"committed_at_sigma>={level:g}"


def fd_key(features: str) -> str:
    """Fréchet distance key: ``fid_inception`` for Inception, else ``fd_<features>``."""
    _check_space(features, FEATURE_SPACES)
    return "fid_inception" if features == "inception" else f"fd_{features}"


def kid_key(features: str) -> str:
    """Kernel Inception Distance key: ``kid_<features>``."""
    _check_space(features, FEATURE_SPACES)
    return f"kid_{features}"


def mem_key(kind: str, space: str, suffix: str = "") -> str:
    """Memorization key ``mem_<kind>_<space><suffix>``, e.g. ``mem_ratio_pixels_clean``."""
    if kind not in MEM_KINDS:
        raise ValueError(f"unknown memorization kind {kind!r}; known: {', '.join(MEM_KINDS)}")
    _check_space(space, MEMORIZATION_SPACES)
    if suffix not in SUFFIXES:
        raise ValueError(f"unknown metric suffix {suffix!r}; known: {SUFFIXES[1:]}")
    return f"mem_{kind}_{space}{suffix}"


def _check_space(space: str, known: tuple[str, ...]) -> None:
    if space not in known:
        raise ValueError(f"unknown feature space {space!r}; known: {', '.join(known)}")


MEM_RATIO_PIXELS = mem_key("ratio", "pixels")


def feature_space_of(metric: str) -> str | None:
    """The learned feature space a metric is measured in (``digits_cnn``, ``inception``,
    ``dinov2``), or None for pixel-space and other metrics. ``conf90`` and
    ``classifier_accuracy`` come from the ``digits_cnn``. Metrics with a space can only be
    compared when the extractors' digests (:data:`EXTRACTOR_DIGEST`) are equal."""
    if metric in (CONF90, CLASSIFIER_ACCURACY):
        return "digits_cnn"
    base = metric
    for suffix in SUFFIXES[1:]:
        base = base.removesuffix(suffix)
    for space in FEATURE_SPACES:
        if space != "pixels" and base in (fd_key(space), kid_key(space),
                                          *(mem_key(k, space) for k in MEM_KINDS)):
            return space
    return None


def _build_directions() -> dict[str, Direction]:
    out: dict[str, Direction] = {LOSS: "min", CLASSIFIER_ACCURACY: "max", CONF90: "max",
                                 HOLES_CONTRAST: "min"}
    for space in FEATURE_SPACES:  # fd_dinov2 / kid_dinov2 stay known, as before
        out[fd_key(space)] = "min"
        out[kid_key(space)] = "min"
    for suffix in SUFFIXES:
        out[PSNR_DENOISED + suffix] = "max"
        for kind, sense in MEM_KINDS.items():
            for space in MEMORIZATION_SPACES:
                out[mem_key(kind, space, suffix)] = sense
    return out


DIRECTIONS: dict[str, Direction] = _build_directions()


def _build_headline() -> tuple[str, ...]:
    out = [fd_key(s) for s in FEATURE_SPACES] + [kid_key(s) for s in FEATURE_SPACES]
    for suffix in SUFFIXES:
        out += [mem_key("ratio", s, suffix) for s in MEMORIZATION_SPACES]
        out.append(PSNR_DENOISED + suffix)
    return tuple(out)


# What `ambientsweep status` shows per trial: fidelity, memorization ratio, SFBD's PSNR.
HEADLINE_METRICS: tuple[str, ...] = _build_headline()
KNOWN_METRICS: tuple[str, ...] = tuple(sorted(DIRECTIONS))
_PATTERN = re.compile(r"[a-z0-9_]+")


def is_known_metric(name: str) -> bool:
    """Whether ``name`` is a metric key this package produces."""
    return name in DIRECTIONS


def direction(name: str) -> Direction:
    """``"min"`` or ``"max"``: which way is better for the metric ``name``.

    Raises:
        KeyError: ``name`` is not a known metric; the message lists the known ones.
    """
    try:
        return DIRECTIONS[name]
    except KeyError:
        hint = "" if _PATTERN.fullmatch(name) else " (keys are lowercase with underscores)"
        raise KeyError(
            f"unknown metric {name!r}{hint}; known metrics: {', '.join(KNOWN_METRICS)}"
        ) from None
