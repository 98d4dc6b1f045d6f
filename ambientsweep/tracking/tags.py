"""The record's vocabulary: run roles, trial states and tag names (no mlflow import).

Every child run carries the sweep, trial id, config hash and group as tags, so the UI can
filter them and a resumed sweep never creates a second run for the same trial. These names
are part of the results contract (docs/contracts.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ambientsweep.metrics.names import EXTRACTOR_DIGEST


class TrialState(str, Enum):
    """A trial's state in the record (the ``ambientsweep.state`` tag)."""

    RUNNING = "running"
    COMPLETE = "complete"  # trained its full budget
    PRUNED = "pruned"  # stopped early by the scheduler
    FAILED = "failed"  # raised, or its loss diverged
    INTERRUPTED = "interrupted"  # the driver stopped (or died) while it ran
    ORPHANED = "orphaned"  # a run no trial owns any more (rerun as another trial); not a result

    def __str__(self) -> str:
        return self.value


ENDED = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)  # final states


def ended_count(counts: dict[str, int]) -> int:
    """Trials in a final state (complete, failed, pruned) among per-state `counts`."""
    return sum(counts.get(s.value, 0) for s in ENDED)

TAG_SWEEP = "ambientsweep.sweep"
TAG_ROLE = "ambientsweep.role"  # parent | trial
TAG_TRIAL_ID = "ambientsweep.trial_id"
TAG_STATE = "ambientsweep.state"  # a TrialState (parent runs: running | complete | interrupted)
TAG_BUDGET = "ambientsweep.budget_complete"  # true | false
TAG_REASON = "ambientsweep.reason"
TAG_FRONT = "ambientsweep.on_front"
TAG_RESUMED_KIMG = "ambientsweep.resumed_from_kimg"  # set when a trial resumed a checkpoint
TAG_RUN_ID = "mlflow_run_id"  # key of a trial's child run id in its Ray results
TAG_SWEEP_ID = "ambientsweep.sweep_id"  # parent run: the sweep folder's unique id
TAG_NODE = "ambientsweep.ray_node_id"  # the cluster node a trial ran on
TAG_CONFIG_HASH = "ambientsweep.config_hash"
TAG_GROUP = "ambientsweep.group_id"
TAG_METHOD = "ambientsweep.method"
TAG_CHECKPOINT = "ambientsweep.checkpoint"  # the trial's final checkpoint file (absolute path)
TAG_EXTRACTOR = "ambientsweep." + EXTRACTOR_DIGEST  # the fidelity extractor's sha256
TAG_THREADS = "ambientsweep.threads_raised_to"  # resources.fill_idle raised its threads
TAG_REUSED_BY = "ambientsweep.reused_by"  # trial ids whose proposal repeated this run's config
PARENT_TAG = "mlflow.parentRunId"
ROLE_PARENT, ROLE_TRIAL = "parent", "trial"
PREFIX = "ambientsweep."
# MLflow's experiment kind: a model-training experiment (its runs page, not the GenAI one).
EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
FOREIGN_PREFIXES = (PREFIX, "mlflow.")  # names that are already someone's namespace


def namespaced(tags: dict[str, str]) -> dict[str, str]:
    """Tags with every bare project name (``method``, ``sfbd.rounds``...) under ``ambientsweep.``;
    MLflow's own ``mlflow.*`` names pass unchanged."""
    return {(k if k.startswith(FOREIGN_PREFIXES) else PREFIX + k): v for k, v in tags.items()}


@dataclass(frozen=True)
class SweepRef:
    """Where a sweep's record is: what a trial needs to find its parent run (picklable)."""

    uri: str
    experiment_id: str
    parent_run_id: str
    sweep: str
