"""A trial's training data as an MLflow dataset input (the UI's Datasets column).

The dataset is described, not uploaded: its name (dataset and N), a digest of what makes the
training set what it is (the subset's image ids in the source and the corruption seed: the
trial seed and replicate index that key every per-image corruption draw,
``ambientsweep.data.corruption``), its size, and where the images come from.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONTEXT_TAG = "mlflow.data.context"


@dataclass(frozen=True)
class TrainingData:
    """What a trial trains on, as logged."""

    name: str
    digest: str
    size: int
    source: str  # the dataset's root folder, or "bundled:<name>" for built-in data
    seed: int
    replicate: int


def training_data(dataset: str, ids: Sequence[int], *, seed: int, replicate: int,
                  source: str) -> TrainingData:
    """Describe a training subset: ``ids`` are its images' indices in the source's pool."""
    h = hashlib.sha256()
    h.update(json.dumps({"dataset": dataset, "seed": int(seed), "replicate": int(replicate)},
                        sort_keys=True).encode())
    h.update(",".join(str(int(i)) for i in ids).encode())
    return TrainingData(name=f"{dataset}-n{len(ids)}", digest=h.hexdigest()[:16], size=len(ids),
                        source=source, seed=int(seed), replicate=int(replicate))


def log_training_data(client: Any, run_id: str, data: TrainingData) -> None:
    """Attach ``data`` to the run (an MlflowClient's) as its training dataset input; once per
    digest, so a retried trial does not log it twice."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    known = client.get_run(run_id).inputs
    if any(d.dataset.digest == data.digest for d in (known.dataset_inputs if known else [])):
        return
    ds = Dataset(name=data.name, digest=data.digest, source_type="local",
                 source=json.dumps({"uri": data.source}),
                 profile=json.dumps({"num_rows": data.size, "seed": data.seed,
                                     "replicate": data.replicate}))
    inputs = [DatasetInput(ds, tags=[InputTag(CONTEXT_TAG, "training")])]
    for attempt in range(3):
        try:
            client.log_inputs(run_id, datasets=inputs)
            return
        except MlflowException as e:
            # NOTE: trials sharing a training subset log the same dataset at once; MLflow's
            # SQL store checks for the row and then inserts it, so the second writer can hit
            # the unique constraint. On a retry the row exists and is only linked to the run.
            if not any(s in str(e) for s in ("UNIQUE constraint", "IntegrityError",
                                             "duplicate key")) or attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
