"""Plan-time check of `early_stopping`: its metric must be reported *during* training.

A scheduler decides on results that carry its metric before the trial's budget ends. A metric
reported only with the final results (an evaluation metric without ``eval.every_kimg``) would
never reach it, so the scheduler could stop nothing; a metric no trial reports at all is a typo
or a mismatch with the method. Which metrics a config reports, and when, is the method's answer
through :func:`ambientsweep.metrics.reported.reported_metrics` (SFBD evaluates after every round
without ``eval.every_kimg``; the same answer the objectives check uses). Torch- and Ray-free.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ambientsweep.metrics.reported import (
    DURING_TRAINING,
    When,
    reported_metrics,
    why_not_reported,
)

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.spec.load import LoadedSweep

MAX_CONFIGS = 2_000  # grid points checked (each is a config validation, no training)


def watched_metrics(loaded: LoadedSweep) -> list[str]:
    """The metric(s) the early-stopping scheduler watches (none without early stopping)."""
    es = loaded.spec.early_stopping
    if es is None:
        return []
    metric = getattr(es, "metric", None)
    if metric:
        return [metric]
    return list(getattr(es, "metrics", None) or loaded.spec.metric_names)  # multi-objective


def _problem(metric: str, cfg: TrialConfig, scheduler: str) -> str | None:
    when = reported_metrics(cfg).get(metric, When.NEVER)
    if when & DURING_TRAINING:
        return None
    if not when:
        return (f"early_stopping: {metric!r} is never reported by this sweep's trials "
                f"({why_not_reported(metric, cfg)}), so the scheduler could stop nothing")
    every = cfg.eval.every_kimg
    now = ("eval.every_kimg is not set" if every is None else
           f"eval.every_kimg: {every:g} is not below the budget of {cfg.total_kimg:g} kimg")
    # MOASHA ranks on the objectives, which only evaluation points measure.
    lead = "moasha decides at evaluation points, but " if scheduler == "moasha" else ""
    return (f"early_stopping: {lead}{metric!r} is reported only with the final results ({now}), "
            "so the scheduler would never see it during training; add eval.every_kimg under "
            "overrides (at most the grace period, e.g. eval.every_kimg: "
            f"{_suggest_every(cfg)}) or watch a metric reported during training, e.g. loss")


def _suggest_every(cfg: TrialConfig) -> str:
    return f"{max(cfg.total_kimg / 4, 0.01):.3g}"


def _configs(loaded: LoadedSweep) -> list[tuple[str, dict[str, Any]]]:
    """(label, searched values) of the configurations trials can run: every grid point; for
    the other algorithms each probe value of each key, with the other searched keys at their
    first probe value (a searched eval.every_kimg is set in every probe). The fixed config
    alone only when nothing is searched: no trial runs it otherwise."""
    from ambientsweep.search import algorithms
    from ambientsweep.spec.load import _probe_values, grid_points

    spec = loaded.spec
    if not spec.space:
        return [("", {})]
    if spec.search.algorithm == algorithms.GRID:
        return [(f" (grid point {p})", p) for p in itertools.islice(grid_points(spec),
                                                                   MAX_CONFIGS)]
    first = {k: _probe_values(p)[0] for k, p in spec.space.items()}
    return [(f" (with {k} = {v!r})", {**first, k: v}) for k, p in spec.space.items()
            for v in _probe_values(p)]


def stopping_problems(loaded: LoadedSweep) -> list[str]:
    """One message per watched metric some configuration of the sweep never reports during
    training (the first such configuration named); [] when all is well."""
    metrics = watched_metrics(loaded)
    scheduler = getattr(loaded.spec.early_stopping, "scheduler", "")
    out: list[str] = []
    for metric in metrics:
        for label, params in _configs(loaded):
            try:
                cfg = loaded.trial_config(params)
            except ValidationError:
                continue  # reported by the schema checks
            msg = _problem(metric, cfg, scheduler)
            if msg:
                out.append(f"{loaded.path}: {msg}{label}")
                break
    return out
