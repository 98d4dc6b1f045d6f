"""The frozen pydantic base and field types shared by the trial config and the method specs.

A leaf module (pydantic only), so ``ambientsweep.config`` and every ``methods/<kind>/spec.py``
can use it without importing each other.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


class Frozen(BaseModel):
    """Immutable, hashable, no unknown keys; inf/NaN survive a JSON round trip."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")
