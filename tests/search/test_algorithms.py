"""One list of search algorithms and Optuna samplers: schema, errors and factories agree."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ambientsweep.search.algorithms import ALGORITHMS, OPTUNA_SAMPLERS, sampler_name
from ambientsweep.search.space import SAMPLERS
from ambientsweep.spec.schema import Search, SweepSpec


def test_schema_enums_are_the_lists() -> None:
    props = SweepSpec.model_json_schema()["$defs"]["Search"]["properties"]
    assert tuple(props["algorithm"]["enum"]) == ALGORITHMS
    assert tuple(props["sampler"]["enum"]) == OPTUNA_SAMPLERS
    assert tuple(SAMPLERS) == OPTUNA_SAMPLERS


def test_unknown_algorithm_error_names_every_allowed_one() -> None:
    with pytest.raises(ValidationError) as e:
        Search(algorithm="bayes")
    assert all(f"'{a}'" in str(e.value) for a in ALGORITHMS)
    with pytest.raises(ValidationError) as e:
        Search(sampler="cmaes")
    assert all(f"'{s}'" in str(e.value) for s in OPTUNA_SAMPLERS)


def test_every_sampler_builds() -> None:
    for name in OPTUNA_SAMPLERS:
        sampler = SAMPLERS[name](0, None)
        assert type(sampler).__name__.lower().startswith(
            {"tpe": "tpe", "nsga2": "nsgaii", "gp": "gp", "random": "random"}[name])
    assert sampler_name("random", "tpe") == "random"
    assert sampler_name("optuna", "gp") == "gp"
    with pytest.raises(ValueError):
        sampler_name("grid", "tpe")
