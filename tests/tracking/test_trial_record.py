"""One real trial (tiny config, no Ray) recorded through the MLflow adapter into SQLite:
the conventions a trial run carries (dataset input, provenance, namespaced tags)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ambientsweep.config import TrialConfig
from ambientsweep.metrics.extractor_files import SHIPPED_DIGITS_CNN
from ambientsweep.tracking.mlflow_log import SweepTracking, load_results, open_trial_run
from ambientsweep.trial import run_trial
from tests.conftest import TINY_BASE


def test_trial_run_follows_the_mlflow_conventions(tmp_path: Path, shared_cache: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = SweepTracking(uri, "rec", "rec", tmp_path / "artifacts")
    tracking.ensure_parent({"sweep_file": "rec.yaml"})
    cfg = TrialConfig.model_validate(yaml.safe_load(TINY_BASE))
    ml = open_trial_run(tracking.ref, "t0", run_name="r0", params={"replicate": 0},
                        config_hash=cfg.config_hash(), group_id=cfg.group_id())
    run_trial(cfg, ml, tmp_path / "trial", cache_dir=shared_cache)
    ml.checkpoint(tmp_path / "trial" / "checkpoint.pt")
    client = tracking.client
    assert client.get_experiment(tracking.experiment_id).tags["mlflow.experimentKind"] == (
        "custom_model_development")
    run = client.get_run(ml.run_id)
    tags = run.data.tags
    assert tags["ambientsweep.method"] == "edm" and "method" not in tags
    assert tags["ambientsweep.config_hash"] == cfg.config_hash()
    # TINY_BASE keeps the default reference and classifier splits: the shipped classifier,
    # recorded by its sha256 digest (a trained one's digest is checked in
    # tests/metrics/test_extractor_files.py).
    digest = tags["ambientsweep.extractor_digest"]
    assert digest == SHIPPED_DIGITS_CNN.digest
    assert "ambientsweep.mlflow_version" in tags and "ambientsweep.torch_version" in tags
    assert not [k for k in tags if not k.startswith(("ambientsweep.", "mlflow."))]
    parent = client.get_run(tracking.parent_run_id).data.tags
    assert parent["ambientsweep.sweep_file"] == "rec.yaml" and "ambientsweep.version" in parent
    (inp,) = run.inputs.dataset_inputs
    assert inp.dataset.name == "digits-n50" and json.loads(inp.dataset.profile)["num_rows"] == 50
    df = load_results(uri, "rec")
    row = df.iloc[0]
    assert row["method"] == "edm" and row["config_hash"] == cfg.config_hash()
    assert row["extractor_digest"] == digest
    assert Path(row["checkpoint"]).is_file() and Path(row["image.samples"]).is_file()
