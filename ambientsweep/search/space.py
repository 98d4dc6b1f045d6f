"""Search spaces: the spec's `space` as grid points or an Optuna define-by-run function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

from ambientsweep.search.algorithms import OPTUNA_SAMPLERS, sampler_name
from ambientsweep.spec.load import is_active
from ambientsweep.spec.schema import Param, SweepSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the live view reports progress


def _suggest(trial: optuna.Trial, key: str, p: Param) -> Any:
    if p.choice is not None or p.grid is not None:
        return trial.suggest_categorical(key, p.choice or p.grid)  # type: ignore[arg-type]
    if p.uniform is not None:
        return trial.suggest_float(key, *p.uniform, step=p.step)
    if p.loguniform is not None:
        return trial.suggest_float(key, *p.loguniform, log=True)
    if p.int is not None:
        return trial.suggest_int(key, *p.int, step=int(p.step or 1))
    raise AssertionError(key)


class DefineByRun:
    """Optuna define-by-run space; a `when` parameter is only suggested when it applies.

    A class, not a closure: Ray pickles the searcher (and this space) into its experiment state.
    """

    def __init__(self, spec: SweepSpec) -> None:
        self.items = spec.ordered_space()  # a `when` key is suggested after what it needs

    def __call__(self, trial: optuna.Trial) -> None:
        point: dict[str, Any] = {}
        for key, p in self.items:
            if is_active(p, point):
                point[key] = _suggest(trial, key, p)


def define_by_run(spec: SweepSpec) -> Callable[[optuna.Trial], None]:
    return DefineByRun(spec)


def _tpe(seed: int, startup: int | None) -> optuna.samplers.BaseSampler:
    kw = {"n_startup_trials": startup} if startup else {}
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, **kw)


def _gp(seed: int, startup: int | None) -> optuna.samplers.BaseSampler:
    kw = {"n_startup_trials": startup} if startup else {}
    return optuna.samplers.GPSampler(seed=seed, **kw)


# One factory per name of algorithms.OPTUNA_SAMPLERS: (seed, n_startup_trials) -> sampler.
SAMPLERS: dict[str, Callable[[int, int | None], optuna.samplers.BaseSampler]] = {
    "tpe": _tpe,
    "nsga2": lambda seed, startup: optuna.samplers.NSGAIISampler(seed=seed),
    "gp": _gp,
    "random": lambda seed, startup: optuna.samplers.RandomSampler(seed=seed),
}
assert tuple(SAMPLERS) == OPTUNA_SAMPLERS, "every listed sampler needs a factory"


def optuna_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """The Optuna sampler named by `search.sampler` (`random` for algorithm random)."""
    name = sampler_name(spec.search.algorithm, spec.search.sampler)
    return SAMPLERS[name](spec.seed, spec.search.n_startup_trials)
