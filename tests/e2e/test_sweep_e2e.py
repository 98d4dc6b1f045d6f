"""End to end through the real stack: Ray Tune, Optuna, MLflow (SQLite), real training (the
UI over a finished sweep: test_ui_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import (
    first_complete,
    kill_group,
    ray_trials,
    read_until,
    run_sweep,
    start_cli,
    sweep_runs,
    write_sweep,
)

pytestmark = pytest.mark.e2e


def _ray_results(workdir: Path, name: str) -> list[dict]:
    """Final results of every trial from Ray's own experiment state."""
    return [t.last_result for t in ray_trials(workdir, name)]


def test_optuna_multiobjective_sweep(tmp_path: Path, ray_tmp: str) -> None:
    path = write_sweep(tmp_path, """\
        name: mo
        base: tiny.yaml
        space:
          train.lr: {loguniform: [1.0e-4, 3.0e-3]}
          model.mlp_hidden: {choice: [32, 64]}
        objectives:
          - {metric: fd_digits_cnn, ref: 500}
          - {metric: mem_ratio_pixels, ref: 1.0}
        search: {algorithm: optuna, sampler: tpe, num_trials: 3, n_startup_trials: 2}
        resources: {cpu: 1}
    """)
    workdir = tmp_path / "runs"
    res = run_sweep(path, workdir)
    assert "finished" in res.stdout and "ambientsweep ui" in res.stdout
    parents, children, _ = sweep_runs(workdir, "mo")
    assert len(parents) == 1
    assert parents[0].info.status == "FINISHED"
    assert len(children) == 3
    # The schema version is recorded in the sweep folder and on the parent run.
    from ambientsweep.versions import SCHEMA_VERSION, TAG_SCHEMA_VERSION, VERSION_KEY

    for name in ("sweep.json", "spec.json"):
        saved = json.loads((workdir / "sweeps" / "mo" / name).read_text())
        assert saved[VERSION_KEY] == SCHEMA_VERSION, name
    assert parents[0].data.tags[TAG_SCHEMA_VERSION] == str(SCHEMA_VERSION)
    for c in children:
        assert c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert c.data.tags["ambientsweep.state"] == "complete"
        assert c.data.tags["ambientsweep.budget_complete"] == "true"
        assert c.data.tags["ambientsweep.method"] == "edm"
        assert len(c.data.tags["ambientsweep.config_hash"]) == 16
        assert "param.train.lr" in c.data.params and "param.model.mlp_hidden" in c.data.params
        assert "train.batch_size" in c.data.params  # the whole resolved config
        for m in ("fd_digits_cnn", "mem_ratio_pixels"):
            assert m in c.data.metrics
        assert 0.0 <= c.data.metrics["mem_ratio_pixels"] <= 1.0
        assert c.data.metrics["fd_digits_cnn"] > 0
    assert len({c.data.tags["ambientsweep.config_hash"] for c in children}) == 3
    _check_mlflow_conventions(workdir, "mo", parents[0], children)
    # Ray's results agree, and the live view, not Ray's tables, was printed.
    assert sum(bool(r.get("budget_complete")) for r in _ray_results(workdir, "mo")) == 3
    assert "Trial status" not in res.stdout


def _check_mlflow_conventions(workdir: Path, experiment: str, parent, children) -> None:
    """A model-training experiment; provenance on every run; each trial's training set as a
    dataset input and its checkpoint's path; the parent's front figure, table, hypervolume."""
    from importlib import metadata

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    for run in (parent, *children):
        tags = run.data.tags
        assert tags["ambientsweep.mlflow_version"] == metadata.version("mlflow")
        assert tags["ambientsweep.torch_version"] == metadata.version("torch")
        assert {"ambientsweep.version", "ambientsweep.ray_version",
                "ambientsweep.optuna_version"} <= set(tags)
        bare = [k for k in tags if not k.startswith(("ambientsweep.", "mlflow."))]
        assert not bare, bare  # every project tag under ambientsweep.
    digests = set()
    for c in children:
        (inp,) = client.get_run(c.info.run_id).inputs.dataset_inputs
        assert inp.dataset.name == "digits-n50"
        assert json.loads(inp.dataset.profile)["num_rows"] == 50
        assert {t.key: t.value for t in inp.tags}["mlflow.data.context"] == "training"
        digests.add(inp.dataset.digest)
        assert Path(c.data.tags["ambientsweep.checkpoint"]).is_file()
        assert len(c.data.tags["ambientsweep.extractor_digest"]) > 0  # the fidelity extractor
        finals = [a.path for a in client.list_artifacts(c.info.run_id, "final")]
        assert any("samples_" in a for a in finals) and any("gallery_" in a for a in finals)
    assert len(digests) == 1  # one seed and replicate: the same 50 images, the same noise
    pareto = [a.path for a in client.list_artifacts(parent.info.run_id, "pareto")]
    assert "pareto/pareto.png" in pareto and "pareto/pareto_trials.csv" in pareto
    assert "hypervolume" in client.get_run(parent.info.run_id).data.metrics


def test_killed_driver_resumes_without_duplicates(tmp_path: Path, ray_tmp: str) -> None:
    path = write_sweep(tmp_path, """\
        name: kill
        base: tiny.yaml
        space:
          train.lr: {grid: [5.0e-4, 1.0e-3, 2.0e-3, 4.0e-3]}
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
        resources: {cpu: 1}
        search: {algorithm: grid, max_concurrent: 1}
    """)
    workdir = tmp_path / "runs"
    proc = start_cli("run", path, "--workdir", workdir)
    try:
        read_until(proc, first_complete)  # one trial finished
    finally:
        kill_group(proc, ray_tmp)  # the driver dies without any clean-up, and its local Ray
    _, children, _ = sweep_runs(workdir, "kill")
    assert 1 <= sum(c.data.tags["ambientsweep.state"] == "complete" for c in children) < 4

    res = run_sweep(path, workdir)
    assert "(resumed)" in res.stdout
    parents, children, _ = sweep_runs(workdir, "kill")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    complete = [c for c in children if c.data.tags["ambientsweep.state"] == "complete"]
    assert len(complete) == 4
    hashes = [c.data.tags["ambientsweep.config_hash"] for c in children]
    assert len({c.data.tags["ambientsweep.config_hash"] for c in complete}) == 4  # no duplicate
    assert len(set(hashes)) == len(children)
    ray_done = [r for r in _ray_results(workdir, "kill") if r.get("budget_complete")]
    assert len({json.dumps(r["config"], sort_keys=True) for r in ray_done}) == 4
