"""From the results table (one row per trial) to configurations and fronts.

The input is the table described in ``docs/contracts.md`` ("Results table"): columns ``sweep,
trial_id, run_id, state, budget_complete, config_hash, group_id, replicate, method,
param.<key>...`` and one column per metric.

Rules (the same in CSV, plots and dashboard):
- A **trial is eligible** when ``state == "complete"``, ``budget_complete`` is true and every
  objective is finite. Early-stopped (pruned), failed, running and short-budget trials are
  shown but are never on a front (``reference/platform.md`` §1: ASHA reports stopped trials as
  complete, with values from a truncated budget).
- Seed replicates share a ``group_id`` (one configuration). Each objective is aggregated per
  group as mean, sample std (ddof=1) and count of finite values (:func:`mean_std_count`). The
  std of a single replicate is undefined: NaN in every table, "—" where it is printed.
- A flag read back from CSV or MLflow (``budget_complete``) is true for ``True``, ``true``,
  ``1``, ``1.0`` and ``yes`` (:func:`truthy`), nothing else.
- A **group is eligible only if all of its replicates are eligible**: a configuration with one
  pruned or failed seed has a mean over a biased subset, so it stays off the front.
- The front is taken over the eligible group means, per sweep. The hypervolume reference is the
  objective's ``ref`` where given, else :func:`~ambientsweep.analysis.pareto.default_reference`
  over the eligible group means of all sweeps together, so hypervolumes are comparable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ambientsweep.analysis.pareto import (
    Objective,
    ObjectiveLike,
    ParetoInfo,
    SeriesInfo,
    as_objectives,
    default_reference,
    hypervolume,
    non_dominated_mask,
)
from ambientsweep.metrics import names

PARAM_PREFIX = "param."
GROUP_KEYS = ("group_id", "config_hash", "trial_id")  # first present column groups replicates
# Trial states as displayed: the contract's four plus "incomplete" (complete, short budget).
STATES = ("complete", "incomplete", "pruned", "running", "failed")


# ----------------------------------------------------------------------------------------------
# Trial level.


def param_columns(df: pd.DataFrame) -> list[str]:
    """The swept-parameter columns (``param.<dotted key>``) in table order."""
    return [c for c in df.columns if str(c).startswith(PARAM_PREFIX)]


def short_param_names(keys: Sequence[str]) -> dict[str, str]:
    """Swept key -> label: the last dotted part, or the whole key where that part repeats."""
    keys = [k.removeprefix(PARAM_PREFIX) for k in keys]
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


TRUE_TEXTS = ("true", "1", "1.0", "yes")  # what a flag read back as text means when true


def truthy(col: pd.Series) -> pd.Series:
    """A boolean column that may have come back from CSV or MLflow as text or numbers."""
    if col.dtype == bool:
        return col
    text = col.astype(str).str.strip().str.lower()
    return text.isin(TRUE_TEXTS)


def mean_std_count(values: pd.Series | np.ndarray) -> tuple[float, float, int]:
    """Mean, sample std (ddof=1) and count of the finite values; NaN std for fewer than two
    values (a single replicate has no spread to report), NaN mean for none."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    v = v[np.isfinite(v)]
    mean = float(v.mean()) if v.size else float("nan")
    std = float(v.std(ddof=1)) if v.size > 1 else float("nan")
    return mean, std, int(v.size)


def _check_columns(df: pd.DataFrame, objectives: Sequence[Objective]) -> None:
    missing = [c for c in ["state", *(o.name for o in objectives)] if c not in df.columns]
    if missing:
        raise ValueError(
            f"results table lacks column(s) {missing}; it has {sorted(map(str, df.columns))}"
        )


def trial_states(df: pd.DataFrame) -> pd.Series:
    """Displayed state per trial: ``state``, except complete trials without a full budget,
    which read ``"incomplete"``."""
    state = df["state"].astype(str).str.lower()
    if names.BUDGET_COMPLETE in df.columns:
        state = state.where(
            ~((state == "complete") & ~truthy(df[names.BUDGET_COMPLETE])), "incomplete"
        )
    return state


def finished_trials(df: pd.DataFrame) -> pd.DataFrame:
    """The trials whose values count in a mean: complete, with their whole budget."""
    return df[trial_states(df) == "complete"]


def eligible_trials(df: pd.DataFrame, objectives: Sequence[ObjectiveLike]) -> pd.Series:
    """Trials that may be on a front: complete, full budget, every objective finite."""
    objs = as_objectives(objectives)
    _check_columns(df, objs)
    values = df[[o.name for o in objs]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    return (trial_states(df) == "complete") & pd.Series(
        np.isfinite(values).all(axis=1), index=df.index
    )


def replicate_groups(df: pd.DataFrame) -> list[pd.DataFrame]:
    """The trials of ``df`` split per configuration (``sweep`` if present, then the group key
    of :data:`GROUP_KEYS`), in order of first appearance; each has a ``group_id`` column."""
    work = df.assign(group_id=_group_key(df))
    keys = ["sweep", "group_id"] if "sweep" in work.columns else ["group_id"]
    return [g for _, g in work.groupby(keys, sort=False, dropna=False)]


def _group_key(df: pd.DataFrame) -> pd.Series:
    for key in GROUP_KEYS:
        if key in df.columns:
            return df[key].astype(str)
    return pd.Series([str(i) for i in range(len(df))], index=df.index)


def _trial_ids(df: pd.DataFrame) -> pd.Series:
    for key in ("trial_id", "run_id"):
        if key in df.columns:
            return df[key].astype(str)
    return pd.Series([str(i) for i in range(len(df))], index=df.index)


# ----------------------------------------------------------------------------------------------
# Group level.


def _group_state(states: pd.Series) -> str:
    """One state for a configuration: the worst of its replicates' states."""
    for s in ("failed", "running", "pruned", "incomplete"):
        if (states == s).any():
            return s
    return "complete"


def aggregate_replicates(df: pd.DataFrame, objectives: Sequence[ObjectiveLike]) -> pd.DataFrame:
    """One row per configuration (``sweep``, ``group_id``), replicates aggregated.

    Columns: ``sweep`` (if present), ``group_id``, ``method`` (if present), every
    ``param.<key>`` (first replicate's value), ``n_trials``, ``state`` (worst replicate state),
    ``eligible`` (all replicates eligible), and per objective ``<name>`` (mean of the finite
    values), ``<name>.std`` (ddof=1, NaN for fewer than two values) and ``<name>.count``.
    Groups keep the order in which they first appear.
    """
    objs = as_objectives(objectives)
    _check_columns(df, objs)
    work = df.assign(_state=trial_states(df), _eligible=eligible_trials(df, objs))
    first_cols = [c for c in ("method", *param_columns(df)) if c in work.columns]
    rows = []
    for grp in replicate_groups(work):
        row: dict[str, object] = {c: grp[c].iloc[0] for c in ("sweep", "group_id")
                                  if c in grp.columns}
        for c in first_cols:
            row[c] = grp[c].iloc[0]
        row["n_trials"] = len(grp)
        row["state"] = _group_state(grp["_state"])
        row["eligible"] = bool(grp["_eligible"].all())
        for o in objs:
            row[o.name], row[f"{o.name}.std"], row[f"{o.name}.count"] = mean_std_count(
                grp[o.name])
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Fronts over one or several sweeps.


def as_float(value: object) -> float:
    """A swept value as a number for colour scales and axes; NaN for booleans and text."""
    if isinstance(value, (bool, np.bool_)):
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def point_label(params: dict[str, np.ndarray], i: int, shorts: dict[str, str]) -> str:
    """``lr=0.001, p=0.4`` for configuration `i`; a parameter it does not set (a conditional
    one, inactive there: NaN or None) is left out rather than shown as ``nan``."""
    return ", ".join(f"{shorts[k]}={format_value(v[i])}" for k, v in params.items()
                     if not _missing(v[i]))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value))


def format_value(value: object) -> str:
    """Short text for a parameter value (``0.05``, ``1e-04``, ``True``, ``sfbd``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "nan" if not np.isfinite(value) else f"{float(value):.3g}"
    return str(value)


def format_spread(value: object) -> str:
    """A std as text: ``—`` where it is undefined (NaN: a single replicate), else
    :func:`format_value`."""
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return "—"
    return format_value(value)


def split_sweeps(frames: Mapping[str, pd.DataFrame] | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{sweep: table}`` from a mapping, or from one table split on its ``sweep`` column."""
    if isinstance(frames, pd.DataFrame):
        if "sweep" not in frames.columns:
            return {"sweep": frames}
        return {str(k): g for k, g in frames.groupby("sweep", sort=False)}
    if not frames:
        raise ValueError("no sweeps given")
    return {str(k): v for k, v in frames.items()}


def _resolve_color_by(color_by: str | None, param_names: Sequence[str]) -> str | None:
    if color_by is None:
        return param_names[0] if param_names else None
    key = color_by.removeprefix(PARAM_PREFIX)
    if key not in param_names:
        matches = [p for p in param_names if p.rsplit(".", 1)[-1] == key]
        if len(matches) != 1:
            raise ValueError(
                f"color_by {color_by!r} is not a swept parameter; swept: {list(param_names)}"
            )
        key = matches[0]
    return key


def compute_pareto(
    frames: Mapping[str, pd.DataFrame] | pd.DataFrame,
    objectives: Sequence[ObjectiveLike],
    color_by: str | None = None,
) -> ParetoInfo:
    """Aggregate replicates, take each sweep's front and hypervolume; see the module rules.

    Args:
        frames: ``{sweep name: results table}`` (one series per sweep) or one table with a
            ``sweep`` column.
        objectives: ``[(metric, "min"|"max", ref or None), ...]`` or :class:`Objective` s.
        color_by: swept key to colour points by (with or without ``param.``; the last dotted
            part is enough when unique). None = the first swept key of the first sweep.
    """
    objs = as_objectives(objectives)
    tables = split_sweeps(frames)
    param_names = _swept_keys(tables.values())
    grouped = {sweep: aggregate_replicates(df, objs) for sweep, df in tables.items()}
    reference = _reference_point(objs, grouped.values())
    shorts = short_param_names(param_names)
    return ParetoInfo(
        objectives=objs,
        reference=reference,
        series=tuple(_series(sweep, df, grouped[sweep], objs, reference, shorts)
                     for sweep, df in tables.items()),
        param_names=tuple(param_names),
        color_by=_resolve_color_by(color_by, param_names),
    )


def _swept_keys(tables: Iterable[pd.DataFrame]) -> list[str]:
    """Every swept key of the given sweeps (without ``param.``), in first-seen order."""
    keys: list[str] = []
    for df in tables:
        for c in param_columns(df):
            key = c.removeprefix(PARAM_PREFIX)
            if key not in keys:
                keys.append(key)
    return keys


def _reference_point(objs: Sequence[Objective], grouped: Iterable[pd.DataFrame]) -> np.ndarray:
    """The hypervolume reference: each objective's ``ref`` where given, else derived from the
    eligible group means of all sweeps together (so hypervolumes are comparable)."""
    names = [o.name for o in objs]
    all_elig = [g.loc[g["eligible"], names].to_numpy(float) for g in grouped]
    stacked = np.concatenate(all_elig) if all_elig else np.empty((0, len(objs)))
    directions = [o.direction for o in objs]
    derived = default_reference(stacked, directions) if len(stacked) else np.full(len(objs), 1.0)
    return np.array(
        [o.ref if o.ref is not None else derived[j] for j, o in enumerate(objs)], dtype=float
    )


def _series(sweep: str, df: pd.DataFrame, groups: pd.DataFrame, objs: Sequence[Objective],
            reference: np.ndarray, shorts: dict[str, str]) -> SeriesInfo:
    """One sweep's configurations, front, hypervolume and trials as a :class:`SeriesInfo`."""
    names = [o.name for o in objs]
    directions = [o.direction for o in objs]
    points = groups[names].to_numpy(float)
    eligible = groups["eligible"].to_numpy(bool)
    on_front = non_dominated_mask(points, directions, eligible)
    hv = (
        hypervolume(points[on_front], directions, reference)
        if on_front.any() and np.isfinite(reference).all()
        else 0.0
    )
    pcols = param_columns(df)
    params = {c.removeprefix(PARAM_PREFIX): groups[c].to_numpy() for c in pcols}
    labels = tuple(point_label(params, i, shorts) for i in range(len(groups)))
    gindex = {g: i for i, g in enumerate(groups["group_id"].astype(str))}
    return SeriesInfo(
        sweep=sweep,
        group_ids=tuple(groups["group_id"].astype(str)),
        points=points,
        spread=groups[[f"{n}.std" for n in names]].to_numpy(float),
        n_replicates=groups[[f"{n}.count" for n in names]].min(axis=1).to_numpy(int),
        eligible=eligible,
        on_front=on_front,
        params=params,
        labels=labels,
        hypervolume=float(hv),
        trial_ids=tuple(_trial_ids(df)),
        trial_points=df[names].apply(pd.to_numeric, errors="coerce").to_numpy(float),
        trial_state=tuple(trial_states(df)),
        trial_group=np.array([gindex[g] for g in _group_key(df).to_numpy()], dtype=int),
        trial_eligible=eligible_trials(df, objs).to_numpy(bool),
        trial_params={c.removeprefix(PARAM_PREFIX): df[c].to_numpy() for c in pcols},
    )


def trials_table(
    frames: Mapping[str, pd.DataFrame] | pd.DataFrame, info: ParetoInfo
) -> pd.DataFrame:
    """The input rows of every sweep with ``eligible`` and ``on_front`` columns added (a trial
    is on the front when its configuration is)."""
    out = []
    tables = split_sweeps(frames)
    for s in info.series:
        t = tables[s.sweep].copy()
        if "sweep" not in t.columns:
            t.insert(0, "sweep", s.sweep)
        t["eligible"] = s.trial_eligible
        t["on_front"] = s.on_front[s.trial_group] & s.trial_eligible
        out.append(t)
    table = pd.concat(out, ignore_index=True)
    return table[_ordered_columns(table.columns)]


def _ordered_columns(columns: Sequence[object]) -> list[object]:
    """Identity columns, then every ``param.*`` column together, then the rest, with
    ``eligible`` and ``on_front`` last (sweeps with different params concatenate cleanly)."""
    cols = list(columns)
    params = [c for c in cols if str(c).startswith(PARAM_PREFIX)]
    tail = [c for c in ("eligible", "on_front") if c in cols]
    rest = [c for c in cols if c not in params and c not in tail]
    split = next((i for i, c in enumerate(cols) if c in params), len(cols))
    head = [c for c in cols[:split] if c in rest]
    return head + params + [c for c in rest if c not in head] + tail


def groups_table(info: ParetoInfo) -> pd.DataFrame:
    """One row per configuration of every sweep: params, mean/std/count, eligible, on_front."""
    rows = []
    names = [o.name for o in info.objectives]
    for s in info.series:
        for g in range(len(s.group_ids)):
            row: dict[str, object] = {"sweep": s.sweep, "group_id": s.group_ids[g]}
            for k, v in s.params.items():
                row[PARAM_PREFIX + k] = v[g]
            members = s.trial_group == g
            row["state"] = _group_state(pd.Series(np.asarray(s.trial_state)[members]))
            row["n_trials"] = int(members.sum())
            row["n_replicates"] = int(s.n_replicates[g])
            for j, n in enumerate(names):
                row[n] = s.points[g, j]
                row[f"{n}.std"] = s.spread[g, j]
            row["eligible"] = bool(s.eligible[g])
            row["on_front"] = bool(s.on_front[g])
            rows.append(row)
    table = pd.DataFrame(rows)
    return table[_ordered_columns(table.columns)]
