"""Which hyperparameter matters, per objective, from the sweep's Optuna study (no ray import).

For each objective of a multi-objective study, :func:`optuna.importance.get_param_importances`
with that objective as the target. The evaluator is fANOVA (Hutter, Hoos & Leyton-Brown 2014,
"An Efficient Approach for Assessing Hyperparameter Importance": the share of the variance of
a random-forest surrogate of the objective that each hyperparameter's marginal explains) where
it can run (it needs scikit-learn), Optuna's default evaluator otherwise. Importances are
normalised to sum to 1 per objective. Only trials that trained their full budget (COMPLETE)
enter; pruned and failed ones have no values.

Written as ``importance.csv`` (objective, param, importance, evaluator) and ``importance.png``
(one bar chart per objective) beside the Pareto exports.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
from optuna.importance import BaseImportanceEvaluator, FanovaImportanceEvaluator
from optuna.trial import TrialState

CSV_NAME, PNG_NAME = "importance.csv", "importance.png"
COLUMNS = ["objective", "param", "importance", "evaluator"]


def evaluator(seed: int = 0) -> BaseImportanceEvaluator | None:
    """fANOVA when scikit-learn is importable; None (Optuna's default evaluator) otherwise."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return None
    return FanovaImportanceEvaluator(seed=seed)


def importance_table(study: optuna.Study, objectives: list[str], seed: int = 0) -> pd.DataFrame:
    """One row per (objective, searched param); empty when under 2 complete trials or no
    searched param varies."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or len(objectives) != len(study.directions):
        return pd.DataFrame(columns=COLUMNS)
    ev = evaluator(seed)
    name = type(ev).__name__ if ev else "optuna default"
    rows = []
    for i, metric in enumerate(objectives):
        try:
            imp = optuna.importance.get_param_importances(
                study, evaluator=ev, target=lambda t, i=i: t.values[i])
        except (RuntimeError, ValueError):  # e.g. every param took one value only
            continue
        rows += [(metric, p, float(v), name) for p, v in imp.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def draw(table: pd.DataFrame, path: Path) -> Path:
    """Horizontal bars of each param's importance, one panel per objective."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = list(dict.fromkeys(table["objective"]))
    params = sorted(dict.fromkeys(table["param"]))
    fig = Figure(figsize=(4.2 * len(metrics), 0.5 * len(params) + 1.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        part = table[table["objective"] == metric].set_index("param")["importance"]
        values = [float(part.get(p, 0.0)) for p in params]
        ax.barh(params, values, color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.set_title(metric)
        ax.set_xlabel("importance (share of variance)")
    fig.suptitle(f"hyperparameter importance ({table['evaluator'].iloc[0]})")
    fig.savefig(path, dpi=110)
    return path


def write_importance(study: optuna.Study, objectives: list[str], out_dir: Path,
                     seed: int = 0) -> dict[str, Path]:
    """``importance.csv`` and ``importance.png`` in `out_dir`; {} when nothing to rank."""
    table = importance_table(study, objectives, seed)
    if table.empty:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / CSV_NAME
    table.to_csv(csv, index=False)
    return {"importance": csv, "importance_png": draw(table, out_dir / PNG_NAME)}
