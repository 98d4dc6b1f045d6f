"""A real SQLite MLflow store holding one hand-logged sweep (no training): parent + trials."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

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
