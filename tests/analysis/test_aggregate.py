"""Replicate aggregation, eligibility and multi-sweep fronts on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ambientsweep.analysis.aggregate import (
    aggregate_replicates,
    compute_pareto,
    eligible_trials,
    groups_table,
    point_label,
    trials_table,
)
from ambientsweep.analysis.pareto import hypervolume

OBJ = [("fd_digits_cnn", "min", None), ("mem_ratio_pixels", "min", None)]


def hand_table() -> pd.DataFrame:
    """Three configurations: A (3 complete seeds), B (one seed pruned), C (one seed)."""
    rows = [
        # group, replicate, state, budget_complete (as CSV text for some rows), fd, mem
        ("A", 0, "complete", True, 2.0, 0.10),
        ("A", 1, "complete", "True", 3.0, 0.20),
        ("A", 2, "complete", True, 4.0, 0.30),
        ("B", 0, "complete", True, 1.0, 0.05),
        ("B", 1, "pruned", "False", 0.5, 0.01),
        ("C", 0, "complete", True, 5.0, 0.01),
    ]
    return pd.DataFrame(
        {
            "sweep": "s",
            "trial_id": [f"t{i}" for i in range(len(rows))],
            "run_id": [f"r{i}" for i in range(len(rows))],
            "state": [r[2] for r in rows],
            "budget_complete": [r[3] for r in rows],
            "config_hash": [f"h{i}" for i in range(len(rows))],
            "group_id": [r[0] for r in rows],
            "replicate": [r[1] for r in rows],
            "method": "sfbd",
            "param.method.clean_fraction": [{"A": 0.1, "B": 0.2, "C": 0.05}[r[0]] for r in rows],
            "fd_digits_cnn": [r[4] for r in rows],
            "mem_ratio_pixels": [r[5] for r in rows],
        }
    )


def test_aggregate_replicates_by_hand() -> None:
    g = aggregate_replicates(hand_table(), OBJ).set_index("group_id")
    assert list(g.index) == ["A", "B", "C"]
    assert g.loc["A", "fd_digits_cnn"] == pytest.approx(3.0)
    assert g.loc["A", "fd_digits_cnn.std"] == pytest.approx(1.0)  # sample std of 2, 3, 4
    assert g.loc["A", "mem_ratio_pixels"] == pytest.approx(0.2)
    assert g.loc["A", "mem_ratio_pixels.std"] == pytest.approx(0.1)
    assert g.loc["A", "fd_digits_cnn.count"] == 3
    assert np.isnan(g.loc["C", "fd_digits_cnn.std"])  # a single replicate: std undefined
    assert g.loc["B", "fd_digits_cnn"] == pytest.approx(0.75)
    # Eligible only when every replicate is: B has a pruned seed.
    assert g["eligible"].to_dict() == {"A": True, "B": False, "C": True}
    assert g["state"].to_dict() == {"A": "complete", "B": "pruned", "C": "complete"}
    assert g.loc["B", "param.method.clean_fraction"] == 0.2


def test_eligibility_rules() -> None:
    df = hand_table()
    df.loc[0, "budget_complete"] = False  # complete state but short budget
    df.loc[5, "mem_ratio_pixels"] = np.nan  # no value for an objective
    assert eligible_trials(df, OBJ).tolist() == [False, True, True, True, False, False]
    with pytest.raises(ValueError, match="fd_pixels"):
        eligible_trials(df, [("fd_pixels", "min")])


def test_front_over_group_means_never_includes_ineligible() -> None:
    info = compute_pareto({"s": hand_table()}, OBJ)
    s = info.series[0]
    # B's means (0.75, 0.03) would dominate A, but B is not eligible; C trades off with A.
    assert dict(zip(s.group_ids, s.on_front.tolist(), strict=True)) == {
        "A": True,
        "B": False,
        "C": True,
    }
    trials = trials_table({"s": hand_table()}, info)
    assert trials["on_front"].tolist() == [True, True, True, False, False, True]
    groups = groups_table(info)
    assert groups["n_replicates"].tolist() == [3, 2, 1]
    assert groups["on_front"].tolist() == [True, False, True]


def test_pruned_and_failed_never_on_front(results: dict[str, pd.DataFrame], objectives) -> None:
    info = compute_pareto(results, objectives)
    table = trials_table(results, info)
    front = table[table["on_front"]]
    assert len(front) > 0
    assert (front["state"] == "complete").all()
    assert front["budget_complete"].astype(bool).all()
    # The pruned trial planted with the best values of all is not on the front.
    assert not table.loc[table["trial_id"] == "sfbd_004", "on_front"].item()
    # Every replicate of a front configuration is eligible.
    for s in info.series:
        for g in np.flatnonzero(s.on_front):
            assert s.trial_eligible[s.trial_group == g].all()


def test_several_sweeps_have_their_own_front_and_hypervolume(results, objectives) -> None:
    info = compute_pareto(results, objectives)
    assert [s.sweep for s in info.series] == ["sfbd_clean_fraction", "ambient_p"]
    assert info.reference[1] == 0.35  # the given reference; the first one is derived
    assert info.param_names == ("method.clean_fraction", "method.sigma", "method.p")
    assert info.color_by == "method.clean_fraction"
    for s in info.series:
        expected = hypervolume(s.points[s.on_front], info.directions, info.reference)
        assert s.hypervolume == pytest.approx(expected)
        assert s.hypervolume > 0
    assert compute_pareto(results, objectives, color_by="p").color_by == "method.p"
    with pytest.raises(ValueError, match="not a swept parameter"):
        compute_pareto(results, objectives, color_by="lr")


def test_one_table_with_a_sweep_column(results, objectives) -> None:
    both = pd.concat(results.values(), ignore_index=True)
    info = compute_pareto(both, objectives)
    assert info.hypervolumes == pytest.approx(compute_pareto(results, objectives).hypervolumes)


def test_point_label_leaves_out_a_parameter_the_point_does_not_set() -> None:
    """A conditional parameter (`when:`) is NaN where inactive: no ``channels=nan`` label."""
    params = {"model.dropout": np.array([0.0, 0.05]), "model.channels": np.array([16.0, np.nan]),
              "method.kind": np.array(["edm", None], dtype=object)}
    shorts = {"model.dropout": "dropout", "model.channels": "channels", "method.kind": "kind"}
    assert point_label(params, 0, shorts) == "dropout=0, channels=16, kind=edm"
    assert point_label(params, 1, shorts) == "dropout=0.05"
