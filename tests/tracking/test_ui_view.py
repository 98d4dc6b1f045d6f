"""The trials view that `ambientsweep ui` links to, read from and saved in a real store."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from mlflow.tracking import MlflowClient

from ambientsweep.errors import UserError
from ambientsweep.tracking import ui_view
from tests.mlflow_store import TRIALS, hand_logged_sweep


def test_sweep_experiments_and_saved_view(tmp_path: Path) -> None:
    eid = hand_logged_sweep(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (exp,) = ui_view.sweep_experiments(uri)  # the Default experiment holds no sweep
    assert exp.experiment_id == eid and exp.sweeps == ("handmade",)
    assert exp.objectives == ("fd_digits_cnn", "mem_ratio_pixels")
    assert exp.params == ("param.train.lr",) and exp.n_trials == len(TRIALS)
    ui_view.save_trials_view(uri, exp)
    tags = MlflowClient(tracking_uri=uri).get_experiment(eid).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    state = json.loads(tags["mlflow.sharedViewState.ambientsweep-trials"])
    assert state["searchFilter"] == "tags.`ambientsweep.role` = 'trial'"
    assert state["orderByKey"] == "metrics.`fd_digits_cnn`" and state["orderByAsc"] is True
    assert state["selectedColumns"] == ["metrics.`fd_digits_cnn`", "metrics.`mem_ratio_pixels`",
                                        "params.`param.train.lr`"]
    # Filtering on it in the store finds exactly the trials (the UI sends the same filter).
    runs = MlflowClient(tracking_uri=uri).search_runs([eid], state["searchFilter"])
    assert sorted(r.info.run_name for r in runs) == sorted(TRIALS)


def test_runs_page_url() -> None:
    url = ui_view.runs_page_url("http://127.0.0.1:5001/", "7")
    base, fragment = url.split("#", 1)
    assert base == "http://127.0.0.1:5001/"
    path = urlsplit(fragment)
    assert path.path == "/experiments/7/runs"
    assert parse_qs(path.query) == {"workflowType": ["machine_learning"],
                                    "viewStateShareKey": ["ambientsweep-trials"]}


def test_pick_names_the_known_sweeps(tmp_path: Path) -> None:
    hand_logged_sweep(tmp_path)
    exps = ui_view.sweep_experiments(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert ui_view.pick(exps, "handmade") == exps == ui_view.pick(exps, None)
    with pytest.raises(UserError, match=r"'nope' is not in the tracking store.*handmade"):
        ui_view.pick(exps, "nope")
