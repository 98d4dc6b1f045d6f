"""Plan-time checks of a parsed sweep: sizes and budgets under caps, objectives reported.

Run by :func:`ambientsweep.spec.load.load_sweep` after the schema checks, before anything is
written or started. Grid points are counted before they are expanded (the product of the value
counts first), then enumerated lazily up to the cap; every point is checked for its budget and
for reporting every objective.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ambientsweep.config import TrialConfig
from ambientsweep.metrics.reported import objective_problems
from ambientsweep.search.algorithms import GRID
from ambientsweep.spec.limits import (
    Limits,
    budget_problems,
    grid_count_problems,
    sweep_size_problems,
)
from ambientsweep.spec.schema import SweepSpec

if TYPE_CHECKING:
    from ambientsweep.spec.load import LoadedSweep

Lines = dict[tuple[str, ...], int]


def _at(file: Path, lines: Lines, key: tuple[str, ...]) -> str:
    for n in range(len(key), 0, -1):
        if key[:n] in lines:
            return f"{file}:{lines[key[:n]]}"
    return str(file)


def size_errors(spec: SweepSpec, path: Path, lines: Lines, limits: Limits) -> list[str]:
    """Replicates, trials and the grid's raw product (nothing enumerated)."""
    return [f"{_at(path, lines, tuple(key.split('.')[:2]))}: {key}: {msg}"
            for key, msg in sweep_size_problems(spec, limits)]


def iter_grid_points(spec: SweepSpec) -> Iterator[dict[str, Any]]:
    """Distinct grid points, lazily (cross product of grid/choice values; `when` respected)."""
    from ambientsweep.spec.load import is_active

    keys = list(spec.space)
    values = [spec.space[k].grid or spec.space[k].choice or [] for k in keys]
    seen: set[tuple] = set()
    for combo in itertools.product(*values):
        point = dict(zip(keys, combo, strict=True))
        active = {k: v for k, v in point.items() if is_active(spec.space[k], point)}
        sig = tuple(sorted((k, repr(v)) for k, v in active.items()))
        if sig not in seen:
            seen.add(sig)
            yield active


def _where_fixed(key: str, loaded: LoadedSweep, lines: Lines, base_lines: Lines) -> str:
    """Where a key of the fixed (unsearched) config is set: overrides, method, or the base."""
    spec = loaded.spec
    if key in spec.overrides:
        return f"{_at(loaded.path, lines, ('overrides', key))}: overrides: {key}"
    parts = tuple(key.split("."))
    if parts[0] == "method" and spec.method is not None:
        return f"{_at(loaded.path, lines, parts)}: {key}"
    if parts in base_lines or parts[:1] in base_lines:
        return f"{_at(loaded.base_path, base_lines, parts)}: {key}"
    return f"{loaded.path}: {key}"


def plan_errors(loaded: LoadedSweep, lines: Lines, base_lines: Lines, limits: Limits,
                probes: list[tuple[tuple[str, ...], dict[str, Any]]]) -> list[str]:
    """Budget caps and objectives for the fixed config, each probe value and each grid point.

    `probes`: (location in the sweep file, searched values) to check besides the fixed config.
    """
    spec = loaded.spec
    metrics = spec.metric_names
    errors: list[str] = []
    fixed = loaded.trial_config({})
    fixed_msgs: set[str] = set()
    for key, msg in budget_problems(fixed, limits):
        fixed_msgs.add(msg)
        errors.append(f"{_where_fixed(key, loaded, lines, base_lines)}: {msg}")
    # (Objectives are asked of configs within their budgets only: a config of 10^5 SFBD
    # rounds is refused for that, not planned round by round.)
    fixed_obj = [] if fixed_msgs else objective_problems(metrics, fixed)
    for i, msg in fixed_obj:
        fixed_msgs.add(msg)
        errors.append(f"{_at(loaded.path, lines, ('objectives', str(i), 'metric'))}: "
                      f"objectives.{i}.metric: {msg}")
    for where, params in probes:
        cfg = _config(loaded, params)
        if cfg is None:
            continue  # the schema checks reported it
        label = ".".join(where)
        shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
        budget = [msg for _, msg in budget_problems(cfg, limits)]
        for msg in budget:
            if msg not in fixed_msgs:
                errors.append(f"{_at(loaded.path, lines, where)}: {label}: {msg}")
        for i, msg in [] if budget else objective_problems(metrics, cfg):
            if msg not in fixed_msgs:
                errors.append(f"{_at(loaded.path, lines, where)}: {label}: with {shown}, "
                              f"objectives.{i}.metric {msg}")
    if errors or spec.search.algorithm != GRID:
        return list(dict.fromkeys(errors))

    count = 0
    for point in iter_grid_points(spec):
        count += 1
        if count > limits.grid_points:
            break
        try:
            cfg = loaded.trial_config(point)
        except ValidationError as e:
            msgs = [f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                    for x in e.errors(include_url=False)]
            errors.append(f"{_at(loaded.path, lines, ('space',))}: space: the grid point "
                          f"{point} is invalid: " + "; ".join(msgs))
            break
        problems = [m for _, m in budget_problems(cfg, limits)]
        if not problems:
            problems = [f"objectives.{i}.metric {m}"
                        for i, m in objective_problems(metrics, cfg)]
        if problems:
            errors.append(f"{_at(loaded.path, lines, ('space',))}: space: the grid point "
                          f"{point}: " + "; ".join(problems))
            break
    if not errors:
        errors += [f"{_at(loaded.path, lines, (key,))}: {key}: {msg}"
                   for key, msg in grid_count_problems(spec, count, limits)]
    return errors


def _config(loaded: LoadedSweep, params: dict[str, Any]) -> TrialConfig | None:
    try:
        return loaded.trial_config(params)
    except ValidationError:
        return None
