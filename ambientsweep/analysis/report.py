"""Seed-aggregated tables of finished sweeps: what ``ambientsweep report`` prints.

One row per configuration (the seed replicates of one point share a ``group_id``): the swept
values, how many replicates finished their whole budget, and for each metric the mean and the
sample standard deviation (ddof = 1) over those replicates. Only complete trials with their
full budget count, so a mean is never taken over a pruned or failed seed; a configuration with
fewer finished replicates than the others says so in its ``n``.

The rules are :mod:`ambientsweep.analysis.aggregate`'s (which trials are finished, how
replicates group, :func:`~ambientsweep.analysis.aggregate.mean_std_count`): the std of a single
replicate is NaN in the table and prints as ``—``.

A history table does the same per logged step of one metric (for example SFBD's
``fd_digits_cnn`` after pretraining and after each round, or ``psnr_denoised`` per round).
Steps at which the trial also logged ``round`` are labelled ``round k``; others ``kimg x``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ambientsweep.analysis.aggregate import (
    finished_trials,
    format_value,
    mean_std_count,
    param_columns,
    replicate_groups,
    short_param_names,
)
from ambientsweep.metrics import names as metric_names

__all__ = ["finished_trials", "format_mean_std", "history_table", "markdown", "summary_table"]


def _config_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in ("sweep", "method", *param_columns(df)) if c in df.columns]


def summary_table(df: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per configuration: config columns, ``n``, ``<m>`` mean, ``<m>.std``.

    The std is NaN where fewer than two finished replicates logged the metric.

    Args:
        df: the results table (docs/contracts.md), one row per trial, any states.
        metrics: metric columns to aggregate; a metric no finished trial logged is NaN.
    """
    done = finished_trials(df)
    if done.empty:
        return pd.DataFrame()
    cols = _config_columns(done)
    rows = []
    for grp in replicate_groups(done):
        row: dict[str, object] = {c: grp[c].iloc[0] for c in cols}
        row["n"] = len(grp)
        for m in metrics:
            mean, std, _ = mean_std_count(grp[m]) if m in grp.columns else (np.nan, np.nan, 0)
            row[m], row[f"{m}.std"] = mean, std
        rows.append(row)
    return _sorted(pd.DataFrame(rows))


def history_table(df: pd.DataFrame, history: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and std of `metric` per configuration and logged step.

    Args:
        df: the results table (gives each run's configuration and state).
        history: long table ``run_id, key, step, value`` (every logged value of `metric`, and of
            ``round`` where the trials log it, for the step labels).
        metric: the metric to tabulate.

    Returns:
        One row per configuration; after the config columns and ``n``, one ``<label>`` and
        ``<label>.std`` pair per step label, in step order.
    """
    done = finished_trials(df)
    runs = set(done["run_id"].astype(str))
    h = history[history["run_id"].astype(str).isin(runs)]
    values = h[h["key"] == metric]
    if values.empty:
        return pd.DataFrame()
    rounds = h[h["key"] == metric_names.ROUND].set_index(["run_id", "step"])["value"]
    labels = [
        f"round {int(rounds[(r, s)])}" if (r, s) in rounds.index else f"kimg {s / 1000:g}"
        for r, s in zip(values["run_id"], values["step"], strict=True)
    ]
    values = values.assign(label=labels)
    order = list(dict.fromkeys(values.sort_values("step")["label"]))
    cols = _config_columns(done)
    rows = []
    for grp in replicate_groups(done):
        row: dict[str, object] = {c: grp[c].iloc[0] for c in cols}
        row["n"] = len(grp)
        mine = values[values["run_id"].isin(set(grp["run_id"].astype(str)))]
        for label in order:
            mean, std, _ = mean_std_count(mine.loc[mine["label"] == label, "value"])
            row[label], row[f"{label}.std"] = mean, std
        rows.append(row)
    return _sorted(pd.DataFrame(rows))


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of the swept values (numbers numerically, NaN last), per sweep."""
    keys = [c for c in ("sweep", *param_columns(table)) if c in table.columns]
    if not keys:
        return table.reset_index(drop=True)
    sortable = table.copy()
    for c in keys:
        sortable[c] = sortable[c].map(lambda v: (isinstance(v, str), str(v) if isinstance(
            v, str) else (np.inf if v is None or (isinstance(v, float) and np.isnan(v)) else v)))
    order = sortable.sort_values(keys, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def format_mean_std(mean: float, std: float) -> str:
    """``mean ± std`` with the decimals the magnitude of the mean calls for; ``—`` for a NaN
    mean, ``mean ± —`` for a NaN std (a single replicate)."""
    if not np.isfinite(mean):
        return "—"
    scale = abs(mean)
    decimals = 0 if scale >= 100 else 1 if scale >= 10 else 2 if scale >= 1 else 3
    if not np.isfinite(std):
        return f"{mean:.{decimals}f} ± —"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table: config columns as values, metrics as mean ± std."""
    if table.empty:
        return "(no finished trials)\n"
    metrics = [c for c in table.columns if f"{c}.std" in table.columns]
    configs = [c for c in table.columns
               if c not in metrics and not str(c).endswith(".std") and c != "n"]
    params = [c for c in configs if str(c).startswith("param.")]
    names = short_param_names(params)
    header = [names.get(str(c).removeprefix("param."), str(c)) for c in configs]
    header += ["n", *map(str, metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [_cell(row[c]) for c in configs] + [str(int(row["n"]))]
        cells += [format_mean_std(float(row[m]), float(row[f"{m}.std"])) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return format_value(value)
