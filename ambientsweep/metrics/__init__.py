"""Fidelity and memorization metrics, their names, feature extractors and pictures."""

from ambientsweep.metrics.evaluate import Evaluator
from ambientsweep.metrics.names import (
    KNOWN_METRICS,
    MEM_RATIO_PIXELS,
    direction,
    fd_key,
    is_known_metric,
    kid_key,
    mem_key,
)

__all__ = [
    "KNOWN_METRICS",
    "MEM_RATIO_PIXELS",
    "Evaluator",
    "direction",
    "fd_key",
    "is_known_metric",
    "kid_key",
    "mem_key",
]
