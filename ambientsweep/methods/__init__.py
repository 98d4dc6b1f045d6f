"""Training methods as plug-ins of the one Trainer, registered under their YAML ``kind``.

A method of kind K lives in ``ambientsweep/methods/K/``: ``spec.py`` holds its pydantic spec
(torch-free) and ``method.py`` its torch class (imported when a trial builds the method). The
list below is the registry of the built-in methods; the config's ``method`` union, the kind
lists, the "allowed: ..." texts and the JSON Schema all derive from it. A new method adds its
folder and one line here.

Importing this package imports neither torch nor the method classes; the torch-side names it
re-exports (``Edm``, ``Batch``, ``edm_loss``, ...) are loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from ambientsweep.methods.ambient import AmbientSpec
from ambientsweep.methods.ambient_tn import AmbientTnSpec
from ambientsweep.methods.edm import EdmSpec
from ambientsweep.methods.registry import (
    METHODS,
    MethodSpec,
    build_method,
    default_kind,
    default_spec,
    kinds,
    method_spec,
    rebuild_on_change,
    register,
    unregister,
)
from ambientsweep.methods.sfbd import SfbdSpec
from ambientsweep.methods.spec import MethodSpecBase

# The built-in methods, in the order error texts list them; the first is the default kind.
for _spec in (EdmSpec, AmbientSpec, AmbientTnSpec, SfbdSpec):
    register(_spec)

# Torch-side names, imported on first access (PEP 562) so the spec path stays light.
_LAZY = {
    **dict.fromkeys(("ActionContext", "Batch", "CorruptionInput", "Method", "MethodBase",
                     "Phase", "TrainSet", "clean_noisy_split"), "ambientsweep.methods.base"),
    **dict.fromkeys(("Edm", "edm_loss", "edm_weight", "pixel_mean", "sample_sigmas"),
                    "ambientsweep.methods.edm.method"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METHODS",
    "ActionContext",
    "AmbientSpec",
    "AmbientTnSpec",
    "Batch",
    "CorruptionInput",
    "Edm",
    "EdmSpec",
    "Method",
    "MethodBase",
    "MethodSpec",
    "MethodSpecBase",
    "Phase",
    "SfbdSpec",
    "TrainSet",
    "build_method",
    "clean_noisy_split",
    "default_kind",
    "default_spec",
    "edm_loss",
    "edm_weight",
    "kinds",
    "method_spec",
    "pixel_mean",
    "rebuild_on_change",
    "register",
    "sample_sigmas",
    "unregister",
]
