"""LaTeX summary tables (booktabs), mean ± std and ± Student-t intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ambientsweep.analysis.latex import escape, latex, t_halfwidth
from ambientsweep.analysis.report import summary_table


def _table() -> pd.DataFrame:
    rows = []
    for cf, fds in ((0.1, [2.0, 2.2, 2.4]), (0.2, [1.0, 1.5])):
        for r, fd in enumerate(fds):
            rows.append({"trial_id": f"t{cf}{r}", "run_id": f"r{cf}{r}", "state": "complete",
                         "budget_complete": True, "group_id": f"g{cf}", "replicate": r,
                         "param.method.clean_fraction": cf, "fd_digits_cnn": fd,
                         "mem_ratio_pixels": 0.1 * (r + 1)})
    return summary_table(pd.DataFrame(rows), ["fd_digits_cnn", "mem_ratio_pixels"])


def test_t_halfwidth_matches_the_t_distribution() -> None:
    x = np.array([2.0, 2.2, 2.4])
    got = t_halfwidth(float(x.std(ddof=1)), 3)
    assert math.isclose(got, stats.t.ppf(0.975, 2) * 0.2 / math.sqrt(3))
    assert math.isclose(got, 0.4968, abs_tol=1e-4)  # 4.303 * 0.2 / sqrt 3
    assert math.isnan(t_halfwidth(0.3, 1))


def test_latex_booktabs_with_std_and_with_interval() -> None:
    tex = latex(_table(), caption="SFBD on digits", label="tab:sfbd")
    lines = tex.splitlines()
    assert lines[0] == r"\begin{table}[t]" and r"\label{tab:sfbd}" in lines
    assert [ln for ln in lines if ln in (r"\toprule", r"\midrule", r"\bottomrule")] == [
        r"\toprule", r"\midrule", r"\bottomrule"]
    assert r"clean\_fraction & $n$ & fd\_digits\_cnn & mem\_ratio\_pixels \\" in lines
    assert r"0.1 & 3 & 2.20 $\pm$ 0.20 & 0.200 $\pm$ 0.100 \\" in lines
    assert "standard deviation" in tex
    tex_ci = latex(_table(), ci=0.95)
    assert r"0.1 & 3 & 2.20 $\pm$ 0.50 & 0.200 $\pm$ 0.248 \\" in tex_ci.splitlines()
    # Two replicates: t_{0.975,1} = 12.706, s = 0.354 -> half width 3.18.
    assert r"0.2 & 2 & 1.25 $\pm$ 3.18 & 0.150 $\pm$ 0.635 \\" in tex_ci.splitlines()
    assert r"95\,\% Student-$t$ interval" in tex_ci


def test_escape() -> None:
    assert escape("a_b & 50% {x}") == r"a\_b \& 50\% \{x\}"
