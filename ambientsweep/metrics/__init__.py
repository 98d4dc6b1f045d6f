"""Fidelity and memorization metrics, their names, feature extractors and pictures.

Importing the package stays torch-free (the sweep spec imports ``names`` to check objectives
on the light ``validate`` path); :class:`Evaluator` is imported on first access (PEP 562).
"""

from typing import Any

from ambientsweep.metrics.names import (
    KNOWN_METRICS,
    MEM_RATIO_PIXELS,
    direction,
    fd_key,
    is_known_metric,
    kid_key,
    mem_key,
)


def __getattr__(name: str) -> Any:
    if name == "Evaluator":
        from ambientsweep.metrics.evaluate import Evaluator

        return Evaluator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
