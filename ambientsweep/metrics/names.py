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
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "CLASSIFIER_ACCURACY",
    "CONF90",
    "DIRECTIONS",
    "FEATURE_SPACES",
    "HOLES_CONTRAST",
    "KNOWN_METRICS",
    "LOSS",
    "MEM_KINDS",
    "MEM_RATIO_PIXELS",
    "PSNR_DENOISED",
    "SUFFIXES",
    "Direction",
    "direction",
    "fd_key",
    "is_known_metric",
    "kid_key",
    "mem_key",
]

Direction = Literal["min", "max"]

FEATURE_SPACES: tuple[str, ...] = ("pixels", "digits_cnn", "inception", "dinov2")
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


def fd_key(features: str) -> str:
    """Fréchet distance key: ``fid_inception`` for Inception, else ``fd_<features>``."""
    _check_space(features)
    return "fid_inception" if features == "inception" else f"fd_{features}"


def kid_key(features: str) -> str:
    """Kernel Inception Distance key: ``kid_<features>``."""
    _check_space(features)
    return f"kid_{features}"


def mem_key(kind: str, space: str, suffix: str = "") -> str:
    """Memorization key ``mem_<kind>_<space><suffix>``, e.g. ``mem_ratio_pixels_clean``."""
    if kind not in MEM_KINDS:
        raise ValueError(f"unknown memorization kind {kind!r}; known: {', '.join(MEM_KINDS)}")
    _check_space(space)
    if suffix not in SUFFIXES:
        raise ValueError(f"unknown metric suffix {suffix!r}; known: {SUFFIXES[1:]}")
    return f"mem_{kind}_{space}{suffix}"


def _check_space(space: str) -> None:
    if space not in FEATURE_SPACES:
        raise ValueError(f"unknown feature space {space!r}; known: {', '.join(FEATURE_SPACES)}")


MEM_RATIO_PIXELS = mem_key("ratio", "pixels")


def _build_directions() -> dict[str, Direction]:
    out: dict[str, Direction] = {LOSS: "min", CLASSIFIER_ACCURACY: "max", CONF90: "max",
                                 HOLES_CONTRAST: "min"}
    for space in FEATURE_SPACES:
        out[fd_key(space)] = "min"
        out[kid_key(space)] = "min"
    for suffix in SUFFIXES:
        out[PSNR_DENOISED + suffix] = "max"
        for kind, sense in MEM_KINDS.items():
            for space in FEATURE_SPACES:
                out[mem_key(kind, space, suffix)] = sense
    return out


DIRECTIONS: dict[str, Direction] = _build_directions()
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
