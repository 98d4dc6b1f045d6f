"""Seed-aggregated report tables on hand-made results tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ambientsweep.analysis.report import format_mean_std, history_table, markdown, summary_table


def _results() -> pd.DataFrame:
    rows = []
    for g, p, fds in (("b", 0.5, [30.0, 34.0, 32.0]), ("a", 0.1, [10.0, 14.0, 99.0])):
        for r, fd in enumerate(fds):
            rows.append({"trial_id": f"{g}{r}", "run_id": f"run-{g}{r}", "group_id": g,
                         "replicate": r, "method": "edm", "param.method.p": p,
                         "state": "complete", "budget_complete": True,
                         "fd_digits_cnn": fd, "mem_ratio_pixels": 0.1 * (r + 1)})
    df = pd.DataFrame(rows)
    df.loc[df.trial_id == "a2", "state"] = "failed"  # its fd of 99 must not count
    return df


def test_summary_means_and_stds_over_finished_replicates_in_swept_order() -> None:
    t = summary_table(_results(), ["fd_digits_cnn", "mem_ratio_pixels"])
    assert list(t["param.method.p"]) == [0.1, 0.5]  # sorted by the swept value
    assert list(t["n"]) == [2, 3]
    assert t.loc[0, "fd_digits_cnn"] == 12.0
    assert math.isclose(t.loc[0, "fd_digits_cnn.std"], np.std([10.0, 14.0], ddof=1))
    assert t.loc[1, "fd_digits_cnn"] == 32.0 and t.loc[1, "fd_digits_cnn.std"] == 2.0
    assert math.isclose(t.loc[1, "mem_ratio_pixels"], 0.2)


def test_short_budget_trials_do_not_count_and_single_values_have_no_std() -> None:
    df = _results()
    df.loc[df.group_id == "b", "budget_complete"] = [True, False, False]
    t = summary_table(df, ["fd_digits_cnn"])
    row = t[t["param.method.p"] == 0.5].iloc[0]
    assert row["n"] == 1 and row["fd_digits_cnn"] == 30.0 and np.isnan(row["fd_digits_cnn.std"])
    assert "| 0.5 | 1 | 30.0 ± — |" in markdown(t)  # the undefined std reads "—"


def test_markdown_cells() -> None:
    text = markdown(summary_table(_results(), ["fd_digits_cnn", "mem_ratio_pixels"]))
    lines = text.splitlines()
    assert lines[0] == "| method | p | n | fd_digits_cnn | mem_ratio_pixels |"
    assert lines[2] == "| edm | 0.1 | 2 | 12.0 ± 2.8 | 0.150 ± 0.071 |"
    assert lines[3] == "| edm | 0.5 | 3 | 32.0 ± 2.0 | 0.200 ± 0.100 |"
    assert markdown(pd.DataFrame()) == "(no finished trials)\n"


def test_format_mean_std_decimals() -> None:
    assert format_mean_std(340.94, 12.3) == "341 ± 12"
    assert format_mean_std(17.02, 0.31) == "17.0 ± 0.3"
    assert format_mean_std(0.9123, 0.0456) == "0.912 ± 0.046"
    assert format_mean_std(float("nan"), 1.0) == "—"


def test_history_labels_rounds_and_aggregates_per_step() -> None:
    df = _results()
    hist = []
    for _, row in df.iterrows():
        base = 10.0 if row.group_id == "a" else 100.0
        for rnd, step in enumerate((64000, 96000, 128000)):
            hist.append((row.run_id, "fd_digits_cnn", step, base - rnd + row.replicate))
            hist.append((row.run_id, "round", step, float(rnd)))
    long = pd.DataFrame(hist, columns=["run_id", "key", "step", "value"])
    t = history_table(df, long, "fd_digits_cnn")
    assert [c for c in t.columns if not c.endswith(".std")][-3:] == ["round 0", "round 1",
                                                                     "round 2"]
    a = t[t["param.method.p"] == 0.1].iloc[0]  # replicates 0 and 1 (2 failed)
    assert a["round 0"] == 10.5 and a["round 2"] == 8.5
    b = t[t["param.method.p"] == 0.5].iloc[0]
    assert b["round 1"] == 100.0 and b["round 1.std"] == 1.0
    no_rounds = long[long.key != "round"]
    assert "kimg 96" in history_table(df, no_rounds, "fd_digits_cnn").columns
    assert history_table(df, long, "psnr_denoised").empty


def _one_seed_table(flag: object) -> pd.DataFrame:
    """Configuration ``a`` has two finished seeds; ``b`` one, whose ``budget_complete`` is
    ``flag`` as it may come back from CSV or MLflow."""
    rows = [{"trial_id": f"a{r}", "run_id": f"run-a{r}", "group_id": "a", "method": "edm",
             "param.method.p": 0.1, "state": "complete", "budget_complete": True,
             "fd_digits_cnn": 10.0 + 2 * r, "mem_ratio_pixels": 0.1} for r in range(2)]
    rows.append({"trial_id": "b0", "run_id": "run-b0", "group_id": "b", "method": "edm",
                 "param.method.p": 0.5, "state": "complete", "budget_complete": flag,
                 "fd_digits_cnn": 30.0, "mem_ratio_pixels": 0.05})  # on the front
    return pd.DataFrame(rows)


def test_a_single_replicate_has_no_std_in_report_aggregate_and_exports(tmp_path: Path) -> None:
    from ambientsweep.analysis.aggregate import aggregate_replicates, compute_pareto, groups_table
    from ambientsweep.analysis.dashboard import write_dashboard

    df = _one_seed_table(True)
    objectives = [("fd_digits_cnn", "min", None), ("mem_ratio_pixels", "min", None)]
    report = summary_table(df, ["fd_digits_cnn"]).set_index("param.method.p")
    groups = aggregate_replicates(df, objectives).set_index("group_id")
    exported = groups_table(compute_pareto(df, objectives)).set_index("group_id")
    for table in (report.loc[0.5], groups.loc["b"], exported.loc["b"]):
        assert np.isnan(table["fd_digits_cnn.std"])
    assert report.loc[0.1, "fd_digits_cnn.std"] == groups.loc["a", "fd_digits_cnn.std"] == 2 ** .5
    assert "| 0.5 | 1 | 30.0 ± — |" in markdown(summary_table(df, ["fd_digits_cnn"]))
    html = write_dashboard(df, objectives, tmp_path / "d.html").read_text()
    assert "30 ± —" in html and "± nan" not in html  # the front table of the dashboard


@pytest.mark.parametrize("flag,counts", [(True, True), ("True", True), ("yes", True),
                                         (1.0, True), ("1", True), (False, False),
                                         ("no", False), ("0.0", False), (None, False)])
def test_report_and_aggregate_read_budget_flags_alike(flag: object, counts: bool) -> None:
    from ambientsweep.analysis.aggregate import trial_states

    df = _one_seed_table(flag)
    in_report = 0.5 in set(summary_table(df, ["fd_digits_cnn"])["param.method.p"])
    complete = trial_states(df).iloc[-1] == "complete"
    assert in_report == complete == counts
