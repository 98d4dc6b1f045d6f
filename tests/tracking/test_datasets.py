"""A trial's training set as an MLflow dataset input, in a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient

from ambientsweep.tracking.datasets import log_training_data, training_data


def test_digest_follows_ids_and_corruption_seed() -> None:
    a = training_data("digits", [3, 1, 4], seed=0, replicate=0, source="bundled:digits")
    assert (a.name, a.size, len(a.digest)) == ("digits-n3", 3, 16)
    assert a == training_data("digits", [3, 1, 4], seed=0, replicate=0, source="bundled:digits")
    for other in (training_data("digits", [3, 1, 5], seed=0, replicate=0, source="x"),
                  training_data("digits", [3, 1, 4], seed=1, replicate=0, source="x"),
                  training_data("digits", [3, 1, 4], seed=0, replicate=1, source="x")):
        assert other.digest != a.digest


def test_logged_once_as_the_training_input(tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("ds"))
    data = training_data("digits", list(range(50)), seed=0, replicate=2, source="bundled:digits")
    log_training_data(client, run.info.run_id, data)
    log_training_data(client, run.info.run_id, data)  # a retried trial: not twice
    (inp,) = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert (inp.dataset.name, inp.dataset.digest) == ("digits-n50", data.digest)
    assert json.loads(inp.dataset.source) == {"uri": "bundled:digits"}
    assert json.loads(inp.dataset.profile) == {"num_rows": 50, "seed": 0, "replicate": 2}
    assert [(t.key, t.value) for t in inp.tags] == [("mlflow.data.context", "training")]
