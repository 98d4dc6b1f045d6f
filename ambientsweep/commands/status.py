"""`ambientsweep status`: the sweep's trials as a terminal table or as JSON for scripts.

The JSON shape is stable (``STATUS_COLUMNS`` per trial, in that order; searched values under
``params`` by dotted key; final metric values under ``metrics``) so scripts can rely on it:

    {"sweep": str, "experiment": str, "objectives": [str], "counts": {state: int},
     "trials": [{"trial_id", "run_id", "run_name", "state", "replicate", "budget_complete",
                 "config_hash", "group_id", "method", "reason", "checkpoint",
                 "extractor_digest", "params", "metrics"}]}
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

STATUS_COLUMNS = ("trial_id", "run_id", "run_name", "state", "replicate", "budget_complete",
                  "config_hash", "group_id", "method", "reason", "checkpoint",
                  "extractor_digest", "params", "metrics")
NOT_METRICS = {"sweep", "trial_id", "run_id", "run_name", "state", "reason", "budget_complete",
               "config_hash", "group_id", "method", "replicate", "checkpoint",
               "extractor_digest"}


def _metric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns
            if c not in NOT_METRICS and not c.startswith(("param.", "image."))]


def _plain(v: Any) -> Any:
    """JSON-safe scalars: numpy to Python, NaN and missing to None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def status_record(name: str, experiment: str, objectives: list[str],
                  df: pd.DataFrame) -> dict[str, Any]:
    """The JSON document of ``ambientsweep status --json`` (see the module docstring)."""
    trials = []
    metrics = _metric_columns(df)
    for _, row in df.sort_values("trial_id").iterrows() if not df.empty else []:
        rec: dict[str, Any] = {c: _plain(row.get(c)) for c in STATUS_COLUMNS[:-2]}
        rec["replicate"] = int(rec["replicate"] or 0)
        rec["budget_complete"] = bool(rec["budget_complete"])
        rec["params"] = {c.removeprefix("param."): _plain(row[c])
                         for c in df.columns if c.startswith("param.")}
        rec["metrics"] = {c: _plain(row[c]) for c in metrics if _plain(row[c]) is not None}
        trials.append(rec)
    counts = df["state"].value_counts().to_dict() if not df.empty else {}
    return {"sweep": name, "experiment": experiment, "objectives": list(objectives),
            "counts": {str(k): int(v) for k, v in sorted(counts.items())}, "trials": trials}


def status_json(name: str, experiment: str, objectives: list[str], df: pd.DataFrame) -> str:
    return json.dumps(status_record(name, experiment, objectives, df), indent=1) + "\n"


def status_text(name: str, df: pd.DataFrame) -> str:
    """The terminal table: counts, then one line per trial (state, searched params, metrics)."""
    if df.empty:
        return f"sweep {name}: no trials recorded yet\n"
    cols = ["trial_id", "state", "replicate"] + [c for c in df.columns if c.startswith("param.")]
    from ambientsweep.metrics import names

    metric_cols = [c for c in df.columns if c in names.HEADLINE_METRICS]
    show = df[cols + metric_cols].rename(columns=lambda c: c.removeprefix("param."))
    counts = df["state"].value_counts().to_dict()
    head = f"sweep {name}: " + ", ".join(f"{v} {k}" for k, v in counts.items())
    table = show.sort_values(list(show.columns[3:4]) or ["trial_id"]).to_string(
        index=False, float_format=lambda v: f"{v:.4g}")
    return f"{head}\n{table}\n"
