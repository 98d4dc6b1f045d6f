"""Real SQLite MLflow stores holding a sweep logged by hand (no training): one through the
client alone, one through the tracking classes (:func:`toy_sweep`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mlflow.tracking import MlflowClient

from ambientsweep.tracking.mlflow_log import MlflowTrialReporter, SweepTracking, default_uri
from ambientsweep.workdir import sweep_paths

TRIALS = {"lr=0.001 r0": (1.8125, 0.25), "lr=0.002 r0": (1.5, 0.3125),
          "lr=0.004 r0": (2.25, 0.1875)}


def hand_logged_sweep(workdir: Path, name: str = "handmade") -> str:
    """``workdir/mlflow.db`` with sweep ``name`` (3 finished trials); the experiment id."""
    workdir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    eid = client.create_experiment(name, artifact_location=(workdir / "art").as_uri())
    parent = client.create_run(eid, run_name=name, tags={"ambientsweep.role": "parent",
                                                         "ambientsweep.sweep": name})
    client.log_param(parent.info.run_id, "objectives", "fd_digits_cnn,mem_ratio_pixels")
    for i, (run_name, (fd, mem)) in enumerate(TRIALS.items()):
        run = client.create_run(eid, run_name=run_name, tags={
            "mlflow.parentRunId": parent.info.run_id, "ambientsweep.role": "trial",
            "ambientsweep.sweep": name, "ambientsweep.trial_id": f"t{i}"})
        client.log_param(run.info.run_id, "param.train.lr", run_name.split()[0][3:])
        client.log_metric(run.info.run_id, "fd_digits_cnn", fd)
        client.log_metric(run.info.run_id, "mem_ratio_pixels", mem)
        client.set_terminated(run.info.run_id)
    client.set_terminated(parent.info.run_id)
    return eid


def toy_sweep(workdir: Path, log: Callable[[MlflowTrialReporter, float, int], None], *,
              uri: str | None = None, sweep_id: str | None = None) -> str:
    """A finished SFBD-like sweep "toy" written by the tracking classes: clean_fraction 0.1 and
    0.2 x replicates 0 and 1, each trial's numbers logged by ``log(reporter, cf, replicate)``;
    its parent run id. ``uri``: a store other than the work dir's own (shared by several work
    dirs); ``sweep_id``: the sweep folder's id, tagged on the parent."""
    uri = uri or default_uri(workdir)
    paths = sweep_paths(workdir, "toy")
    paths.sweep_dir.mkdir(parents=True)
    spec = {"name": "toy", "objectives": [{"metric": "fd_digits_cnn", "direction": "min"},
                                          {"metric": "mem_ratio_pixels", "direction": "min"}]}
    (paths.sweep_dir / "spec.json").write_text(json.dumps({"spec": spec, "base": {}}))
    if sweep_id:
        paths.state_file.write_text(json.dumps({"sweep_id": sweep_id}))
    tracking = SweepTracking(uri, "toy", "toy", workdir / "mlartifacts")
    parent, _ = tracking.ensure_parent({}, sweep_id=sweep_id)
    states = {}
    for cf in (0.1, 0.2):
        for rep in (0, 1):
            tid = f"{sweep_id}-t{cf}-{rep}" if sweep_id else f"t{cf}-{rep}"
            reporter = MlflowTrialReporter(uri, tracking.experiment_id, parent, "toy", tid, tid,
                                           {"param.method.clean_fraction": cf, "replicate": rep},
                                           {"group_id": f"g{cf}", "method": "sfbd"})
            log(reporter, cf, rep)
            states[tid] = ("complete", None)
    tracking.mark_trials(states)
    tracking.finish("complete")
    return parent
