"""Final states of reused and invalid proposals, and completion counted from Ray's states."""

from __future__ import annotations

from ambientsweep.search.callbacks import final_state
from ambientsweep.search.keys import (
    BUDGET_KEY,
    DIVERGED_KEY,
    INVALID_KEY,
    REASON_KEY,
    REUSED_KEY,
)
from ambientsweep.search.searchers import signature, split_params
from ambientsweep.tracking.tags import TrialState


def test_reused_results_end_as_their_configuration_did() -> None:
    why = "repeats the configuration of trial a (run r, complete)"
    assert final_state({REUSED_KEY: 1.0, REASON_KEY: why, BUDGET_KEY: 1.0, "fd": 3.0},
                       False) == (TrialState.COMPLETE, why)
    assert final_state({REUSED_KEY: 1.0, REASON_KEY: "p"}, False) == (TrialState.PRUNED, "p")
    assert final_state({REUSED_KEY: 1.0, REASON_KEY: "f", DIVERGED_KEY: 1.0},
                       False) == (TrialState.FAILED, "f")


def test_invalid_proposal_is_failed_with_its_reason() -> None:
    state, reason = final_state({INVALID_KEY: 1.0, REASON_KEY: "invalid configuration x"},
                                False)
    assert state == TrialState.FAILED and reason == "invalid configuration x"


def test_signature_and_params_ignore_the_reuse_marker() -> None:
    a = {"train.lr": 0.001, "model.mlp_hidden": 32}
    b = {"model.mlp_hidden": 32, "train.lr": 0.001, "reuse_of": "t0", "replicate": 1}
    assert signature(a) == signature(b)
    assert signature(a) != signature({**a, "train.lr": 0.002})
    assert split_params(b) == (a, 1)


def test_completion_counts_every_ended_ray_trial(tmp_path) -> None:
    from ray.tune import Result

    from ambientsweep.search.callbacks import ended_counts

    def res(metrics: dict, error: Exception | None = None) -> Result:
        return Result(metrics=metrics, checkpoint=None, error=error, path=str(tmp_path))

    grid = [res({"trial_id": "a", BUDGET_KEY: 1.0}),
            res({"trial_id": "b", REUSED_KEY: 1.0, REASON_KEY: "r", BUDGET_KEY: 1.0}),
            res({"trial_id": "c", "loss": 1.0}),  # stopped early
            res({}, RuntimeError("raised before its first report")),
            res({})]  # never ran (interrupted): not ended
    assert ended_counts(grid) == {"complete": 2, "pruned": 1, "failed": 1}
