"""Training methods as plug-ins of the one Trainer, registered under their YAML `kind`.

A method of kind K lives in ``ambientsweep/methods/K.py``; ``build_method`` imports it on first
use, so adding a method needs no edit here.
"""

from ambientsweep.methods.base import (
    METHODS,
    ActionContext,
    Batch,
    CorruptionInput,
    Method,
    MethodBase,
    Phase,
    TrainSet,
    build_method,
    clean_noisy_split,
    register,
)
from ambientsweep.methods.edm import Edm, edm_loss, edm_weight, pixel_mean, sample_sigmas

__all__ = [
    "METHODS",
    "ActionContext",
    "Batch",
    "CorruptionInput",
    "Edm",
    "Method",
    "MethodBase",
    "Phase",
    "TrainSet",
    "build_method",
    "clean_noisy_split",
    "edm_loss",
    "edm_weight",
    "pixel_mean",
    "register",
    "sample_sigmas",
]
