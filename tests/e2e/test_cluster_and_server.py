"""A real multi-node Ray cluster and a real MLflow tracking server, both on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import kill_matching
from tests.e2e.helpers import (
    first_complete,
    kill_group,
    read_until,
    run_cli,
    run_sweep,
    start_cli,
    write_sweep,
)

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
SWEEP = """\
    name: {name}
    base: tiny.yaml
    space:
      train.lr: {{grid: [5.0e-4, 1.0e-3, 2.0e-3, 4.0e-3]}}
    objectives:
      - {{metric: fd_digits_cnn}}
      - {{metric: mem_ratio_pixels}}
    resources: {{cpu: 1}}
    execution: {{max_failures: 0}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(tmp_path: Path, name: str) -> Path:
    return write_sweep(tmp_path, SWEEP.format(name=name), name=name)


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[str, str]]:
    """A head and a worker node (1 CPU, 100 MB object store each) with token auth, started
    once for the module's tests (none changes them); (address, token)."""
    tmp = tempfile.mkdtemp(prefix="ascl", dir="/tmp")
    port = _free_port()
    token = secrets.token_hex(16)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    common = ["--num-cpus", "1", "--object-store-memory", str(100 * 1024**2),
              "--disable-usage-stats"]
    try:
        subprocess.run([str(BIN / "ray"), "start", "--head", "--port", str(port),
                        "--node-ip-address", "127.0.0.1", "--temp-dir", tmp,
                        "--include-dashboard=false", *common],
                       check=True, capture_output=True, timeout=120, env=env)
        subprocess.run([str(BIN / "ray"), "start", "--address", f"127.0.0.1:{port}",
                        "--node-ip-address", "127.0.0.1", *common],
                       check=True, capture_output=True, timeout=120, env=env)
        yield f"127.0.0.1:{port}", token
    finally:
        kill_matching(tmp)
        kill_matching(f"127.0.0.1:{port}")


@pytest.fixture
def cluster(nodes: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The module's cluster address, with its token in this test's environment."""
    address, token = nodes
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    return address


def test_sweep_on_a_two_node_cluster(tmp_path: Path, cluster: str) -> None:
    path = _write(tmp_path, "cl")
    workdir = tmp_path / "runs"
    res = run_sweep(path, workdir, "--address", cluster)
    assert "on 2 CPU" in res.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("cl")
    runs = [r for r in client.search_runs([exp.experiment_id])
            if r.data.tags.get("ambientsweep.role") == "trial"]
    assert len(runs) == 4
    assert len({r.data.tags["ambientsweep.ray_node_id"] for r in runs}) == 2  # on both nodes
    for r in runs:
        assert r.data.tags["ambientsweep.state"] == "complete"
        assert {"fd_digits_cnn", "mem_ratio_pixels", "loss"} <= set(r.data.metrics)
        arts = [a.path for a in client.list_artifacts(r.info.run_id, "final")]
        assert any(a.endswith(".png") and "samples" in a for a in arts), arts


def test_impossible_request_on_cluster_is_an_error(tmp_path: Path, cluster: str) -> None:
    path = _write(tmp_path, "big")
    path.write_text(path.read_text().replace("resources: {cpu: 1}", "resources: {cpu: 2}"))
    workdir = tmp_path / "runs"
    t0 = time.monotonic()
    res = run_sweep(path, workdir, "--address", cluster, expect=2, timeout=120)
    assert "2 CPU" in res.stderr and "no node" in res.stderr
    assert time.monotonic() - t0 < 60
    assert not (workdir / "mlflow.db").exists()


class _Server:
    """`mlflow server` on 127.0.0.1, lean: one worker, job execution off."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
             f"sqlite:///{self.root / 'server.db'}", "--artifacts-destination",
             str(self.root / "artifacts"), "--serve-artifacts", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    s = _Server(tmp_path_factory.mktemp("server"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def server(_module_server: _Server) -> _Server:
    """One `mlflow server` for the module's tests (each its own experiment); a test that
    stops it starts it again, and finds it running if the test before it did not."""
    if _module_server.proc is None or _module_server.proc.poll() is not None:
        _module_server.start()
    return _module_server


def _search(url: str, experiment: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/get-by-name?"
                                f"experiment_name={experiment}", timeout=10) as r:
        exp_id = json.load(r)["experiment"]["experiment_id"]
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/runs/search", method="POST",
                                 data=json.dumps({"experiment_ids": [exp_id]}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r).get("runs", [])


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def test_sweep_against_tracking_server(tmp_path: Path, server: _Server, ray_tmp: str) -> None:
    path = _write(tmp_path, "srv")
    res = run_sweep(path, tmp_path / "runs", "--tracking-uri", server.url)
    runs = _search(server.url, "srv")
    trials = [r for r in runs if _tags(r).get("ambientsweep.role") == "trial"]
    assert len(trials) == 4
    assert all(_tags(r)["ambientsweep.state"] == "complete" for r in trials)
    assert not (tmp_path / "runs" / "mlflow.db").exists()  # everything went to the server
    with urllib.request.urlopen(f"{server.url}/api/2.0/mlflow-artifacts/artifacts?path=",
                                timeout=10) as r:
        assert json.load(r).get("files")  # artifacts uploaded through the server
    # The results table reads the pictures through the artifact API (downloaded, not guessed
    # from a file:// path), so the dashboard embeds every trial's thumbnails.
    from ambientsweep.tracking.mlflow_log import load_results

    df = load_results(server.url, "srv")
    for col in ("image.samples", "image.gallery"):
        assert all(Path(p).is_file() for p in df[col]), df[col].tolist()
    page = tmp_path / "runs" / "sweeps" / "srv" / "exports" / "pareto.html"
    assert "ambientsweep ui srv" in res.stdout and f"--tracking-uri {server.url}" in res.stdout
    html = page.read_text()
    assert html.count("data:image/png;base64,") >= len(trials)
    # `ambientsweep ui --tracking-uri <server>` starts nothing and points at that server.
    ui = run_cli("ui", "srv", "--tracking-uri", server.url, timeout=120)
    assert f"{server.url}/#/experiments/" in ui.stdout
    assert "workflowType=machine_learning" in ui.stdout


def test_tracking_server_lost_mid_sweep(tmp_path: Path, server: _Server, ray_tmp: str) -> None:
    path = _write(tmp_path, "lost")
    path.write_text(path.read_text().replace("resources: {cpu: 1}",
                                             "resources: {cpu: 1}\nsearch: {max_concurrent: 1}"))
    args = ("run", path, "--workdir", tmp_path / "runs", "--tracking-uri", server.url)
    proc = start_cli(*args)
    try:
        lines = read_until(proc, first_complete)
        server.stop()  # the server goes away after the first trial
        out, _ = proc.communicate(timeout=300)
        lines.append(out)
    finally:
        kill_group(proc)
    text = "".join(lines)
    assert proc.returncode == 1, text
    assert "cannot be reached" in text and "run the same command again" in text, text
    assert "Traceback" not in text.split("cannot be reached")[-1]

    server.start()  # back: the same command records everything, nothing lost
    run_cli(*args)
    trials = [r for r in _search(server.url, "lost")
              if _tags(r).get("ambientsweep.role") == "trial"]
    complete = [r for r in trials if _tags(r)["ambientsweep.state"] == "complete"]
    assert len({_tags(r)["ambientsweep.config_hash"] for r in complete}) == 4


def test_tracking_server_down_and_back_mid_trial(tmp_path: Path, server: _Server,
                                                 ray_tmp: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The server stops and restarts while a trial trains: the trial buffers, goes on and
    flushes; the run ends complete with every loss step once."""
    monkeypatch.setenv("AMBIENTSWEEP_LOG_RETRY_S", "2")
    path = write_sweep(tmp_path, """\
        name: out
        base: tiny.yaml
        overrides: {train.kimg: 19.2, eval.every_kimg: 1.92}
        space:
          train.lr: {grid: [1.0e-3]}
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
        execution: {max_failures: 0}
    """, name="out")
    workdir = tmp_path / "runs"
    proc = start_cli("run", path, "--workdir", workdir, "--tracking-uri", server.url)
    try:
        trials = workdir / "sweeps" / "out" / "trials"
        deadline = time.monotonic() + 300
        while not list(trials.glob("*/checkpoint.pt")) and not list(
                (workdir / "sweeps" / "out" / "ray").glob("tune/*/checkpoint_*")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        server.stop()  # mid-trial
        time.sleep(4)
        buffered = list(trials.glob("*/unlogged.jsonl"))
        server.start()
        out, _ = proc.communicate(timeout=600)
    finally:
        kill_group(proc, ray_tmp)
    assert proc.returncode == 0, out
    assert buffered, out  # the trial wrote to its buffer while the server was away
    assert not list(trials.glob("*/unlogged.jsonl"))  # and flushed it
    runs = [r for r in _search(server.url, "out") if _tags(r).get("ambientsweep.role") == "trial"]
    assert len(runs) == 1 and _tags(runs[0])["ambientsweep.state"] == "complete"
    client = MlflowClient(tracking_uri=server.url)
    steps = [m.step for m in client.get_metric_history(runs[0]["info"]["run_id"], "loss")]
    assert sorted(steps) == [320 * i for i in range(1, 61)]  # every step once, none lost
