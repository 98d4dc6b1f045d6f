"""Paper tables: a seed-aggregated summary table as LaTeX (booktabs), mean ± std or ± a
confidence interval.

The interval is Student's t over the n finished seed replicates of a configuration: the half
width is ``t_{(1 + level) / 2, n - 1} · s / √n`` with ``s`` the sample standard deviation
(ddof = 1), so it needs n ≥ 2 (a single replicate shows its value alone). The table needs
``\\usepackage{booktabs}``.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from ambientsweep.analysis.aggregate import format_value, short_param_names
from ambientsweep.analysis.report import format_mean_std

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in text)


def t_halfwidth(std: float, n: int, level: float = 0.95) -> float:
    """Half width of the two-sided Student-t interval for a mean of ``n`` values; NaN if n < 2."""
    if n < 2 or not math.isfinite(std):
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))


def with_interval(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """The summary table with each ``<m>.std`` replaced by the t-interval half width."""
    out = table.copy()
    for c in [c for c in table.columns if str(c).endswith(".std")]:
        out[c] = [t_halfwidth(float(s), int(n), level)
                  for s, n in zip(table[c], table["n"], strict=True)]
    return out


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    return escape(format_value(value))


def _split(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    metrics = [c for c in table.columns if f"{c}.std" in table.columns]
    configs = [c for c in table.columns
               if c not in metrics and not str(c).endswith(".std") and c != "n"]
    return configs, metrics


def latex(table: pd.DataFrame, *, ci: float | None = None, caption: str | None = None,
          label: str | None = None) -> str:
    """A booktabs ``table`` of a summary table (``ambientsweep.analysis.report``).

    Args:
        table: one row per configuration: config columns, ``n``, ``<m>``, ``<m>.std``.
        ci: None for mean ± std; a level (0.95) for mean ± the t-interval half width.
        caption, label: the float's caption and ``\\label``; the caption says what ± is.
    """
    if table.empty:
        return "% (no finished trials)\n"
    if ci is not None:
        table = with_interval(table, ci)
    configs, metrics = _split(table)
    params = [c for c in configs if str(c).startswith("param.")]
    names = short_param_names(params)
    header = [escape(names.get(str(c).removeprefix("param."), str(c))) for c in configs]
    header += ["$n$", *(escape(str(m)) for m in metrics)]
    align = "l" * len(configs) + "r" * (1 + len(metrics))
    rows = []
    for _, row in table.iterrows():
        cells = [_cell(row[c]) for c in configs]
        cells.append(str(int(row["n"])))
        for m in metrics:
            text = format_mean_std(float(row[m]), float(row[f"{m}.std"]))
            cells.append(text.replace(" ± ", r" $\pm$ ").replace("—", "--"))
        rows.append(" & ".join(cells) + r" \\")
    spread = (f"{ci * 100:g}\\,\\% Student-$t$ interval" if ci is not None
              else "sample standard deviation")
    what = f"Mean $\\pm$ {spread} over the $n$ finished seed replicates."
    lines = [r"\begin{table}[t]", r"\centering",
             r"\caption{" + (f"{escape(caption)}. " if caption else "") + what + "}"]
    if label:
        lines.append(r"\label{" + label + "}")
    lines += [r"\begin{tabular}{" + align + "}", r"\toprule", " & ".join(header) + r" \\",
              r"\midrule", *rows, r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


__all__ = ["escape", "latex", "t_halfwidth", "with_interval"]
