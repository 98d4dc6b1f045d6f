"""What the MLflow UI should open on: each sweep's trials, flat, with the objectives as columns.

MLflow 3.x's experiment page reads its state from the URL and from a *shared view state*: an
experiment tag ``mlflow.sharedViewState.<key>`` holding JSON (search facets and table state)
that the page applies when the URL carries ``viewStateShareKey=<key>`` (the UI's own "Share"
button writes the same tag). ``workflowType=machine_learning`` in the URL selects the
model-training view (MLflow 3.x otherwise opens new experiments in its GenAI view).

The view saved here filters on the trial runs and orders them by the first objective: the UI
nests child runs under their parent only with no filter and the default order, so with this
view the trials are listed flat, one row each (the parent run stays one click away: its
experiment's runs page without the view).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ambientsweep.errors import UserError
from ambientsweep.tracking.mlflow_log import MlflowClient
from ambientsweep.tracking.tags import TAG_ROLE, TAG_SWEEP

VIEW_KEY = "ambientsweep-trials"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
WORKFLOW_ML = "machine_learning"


@dataclass(frozen=True)
class SweepExperiment:
    """One experiment of the store that holds ambientsweep sweeps."""

    experiment_id: str
    name: str
    sweeps: tuple[str, ...]
    objectives: tuple[str, ...]
    params: tuple[str, ...]  # the searched keys, as logged (``param.<dotted key>``)
    n_trials: int


def column_key(kind: str, name: str) -> str:
    """The UI's canonical column key: ``metrics.`fd_digits_cnn```, ``params.`param.lr```."""
    return f"{kind}.`{name}`"


def view_state(objectives: tuple[str, ...], params: tuple[str, ...]) -> dict[str, Any]:
    """The shared view state: trial runs only (flat), by the first objective, its columns."""
    state: dict[str, Any] = {
        "searchFilter": f"tags.`{TAG_ROLE}` = 'trial'",
        "orderByAsc": True,
        "selectedColumns": [column_key("metrics", m) for m in objectives]
        + [column_key("params", p) for p in params],
    }
    if objectives:
        state["orderByKey"] = column_key("metrics", objectives[0])
    return state


def runs_page_url(base_url: str, experiment_id: str, *, shared_view: bool = True) -> str:
    """The experiment's runs page in the model-training view (with the saved trials view)."""
    query = {"workflowType": WORKFLOW_ML}
    if shared_view:
        query["viewStateShareKey"] = VIEW_KEY
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{urlencode(query)}"


def sweep_experiments(uri: str) -> list[SweepExperiment]:
    """The store's experiments that hold sweeps (a parent run tagged by ambientsweep)."""
    client = MlflowClient(tracking_uri=uri)
    out = []
    for exp in client.search_experiments(max_results=1000):
        parents = client.search_runs([exp.experiment_id],
                                     filter_string=f"tags.`{TAG_ROLE}` = 'parent'",
                                     max_results=100)
        if not parents:
            continue
        trials = client.search_runs([exp.experiment_id],
                                    filter_string=f"tags.`{TAG_ROLE}` = 'trial'",
                                    max_results=1000)
        objectives: list[str] = []
        for p in parents:
            for m in p.data.params.get("objectives", "").split(","):
                if m and m not in objectives:
                    objectives.append(m)
        params = sorted({k for r in trials for k in r.data.params if k.startswith("param.")})
        sweeps = tuple(sorted({p.data.tags.get(TAG_SWEEP, p.info.run_name) for p in parents}))
        out.append(SweepExperiment(exp.experiment_id, exp.name, sweeps, tuple(objectives),
                                   tuple(params), len(trials)))
    return out


def save_trials_view(uri: str, experiment: SweepExperiment) -> None:
    """Write the experiment's trials view (and mark it a model-training experiment)."""
    client = MlflowClient(tracking_uri=uri)
    state = view_state(experiment.objectives, experiment.params)
    client.set_experiment_tag(experiment.experiment_id, VIEW_TAG_PREFIX + VIEW_KEY,
                              json.dumps(state))
    exp = client.get_experiment(experiment.experiment_id)
    if EXPERIMENT_KIND_TAG not in exp.tags:
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG,
                                  MODEL_TRAINING_KIND)


def pick(experiments: list[SweepExperiment], sweep: str | None) -> list[SweepExperiment]:
    """The experiments to show: those holding ``sweep`` (its name or experiment), else all."""
    if sweep is None:
        return experiments
    found = [e for e in experiments if sweep in e.sweeps or sweep == e.name]
    if not found:
        known = ", ".join(sorted({s for e in experiments for s in e.sweeps})) or "none"
        raise UserError(f"sweep {sweep!r} is not in the tracking store (sweeps there: {known})")
    return found
