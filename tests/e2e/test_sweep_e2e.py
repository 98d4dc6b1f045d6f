"""End to end through the real stack: Ray Tune, Optuna, MLflow (SQLite), real training."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import kill_matching
from tests.e2e.helpers import CLI, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e


def _ray_results(workdir: Path, name: str) -> list[dict]:
    """Final results of every trial from Ray's own experiment state."""
    from ray.tune import ExperimentAnalysis

    ea = ExperimentAnalysis(str(workdir / "sweeps" / name / "ray" / "tune"))
    return [t.last_result for t in ea.trials]


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
    res = subprocess.run(CLI + ["run", str(path), "--workdir", str(workdir)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
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
    cmd = CLI + ["run", str(path), "--workdir", str(workdir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    try:
        deadline = time.monotonic() + 300
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.strip().startswith("complete"):
                break
            assert time.monotonic() < deadline, "".join(seen)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver dies without any clean-up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        kill_matching(ray_tmp)  # the orphaned local Ray of the killed driver
    assert any(line.strip().startswith("complete") for line in seen), "".join(seen)
    _, children, _ = sweep_runs(workdir, "kill")
    assert 1 <= sum(c.data.tags["ambientsweep.state"] == "complete" for c in children) < 4

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
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


def test_ui_serves_runs_over_rest(tmp_path: Path, ray_tmp: str) -> None:
    path = write_sweep(tmp_path, """\
        name: ui
        base: tiny.yaml
        space:
          train.lr: {grid: [1.0e-3]}
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
    """)
    workdir = tmp_path / "runs"
    res = subprocess.run(CLI + ["run", str(path), "--workdir", str(workdir)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    port = 5000 + os.getpid() % 1000
    ui = subprocess.Popen(CLI + ["ui", "--workdir", str(workdir), "--port", str(port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline and ui.poll() is None, "UI did not start"
            time.sleep(0.5)
        with urllib.request.urlopen(base + "/api/2.0/mlflow/experiments/get-by-name"
                                    "?experiment_name=ui", timeout=10) as r:
            exp_id = json.load(r)["experiment"]["experiment_id"]
        req = urllib.request.Request(
            base + "/api/2.0/mlflow/runs/search", method="POST",
            data=json.dumps({"experiment_ids": [exp_id]}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            runs = json.load(r)["runs"]
        roles = sorted(t["value"] for run in runs for t in run["data"]["tags"]
                       if t["key"] == "ambientsweep.role")
        assert roles == ["parent", "trial"]
        # Bound to loopback only.
        if shutil.which("ss"):
            listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
