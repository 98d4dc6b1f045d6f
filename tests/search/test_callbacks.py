"""Driver callbacks: final states from the last result, recorded (or kept when the store is
down), and the live view's lines; on real Ray Trial objects, without starting Ray."""

from __future__ import annotations

import io

from ray.tune.experiment import Trial

from ambientsweep.search.callbacks import LiveView, TrialStates, final_state
from ambientsweep.tracking.tags import TrialState


def _trial(result: dict, status: str = Trial.TERMINATED) -> Trial:
    t = Trial("__fake", config={"point": {"train.lr": 0.1}, "replicate": 1}, stub=True)
    t.update_last_result(result)
    t.set_status(status)
    return t


def test_final_state_from_the_last_result() -> None:
    assert final_state({"budget_complete": 1.0}, errored=False) == (TrialState.COMPLETE, None)
    assert final_state({"diverged": 1.0}, errored=False)[0] == TrialState.FAILED
    assert final_state({"kimg": 0.3}, errored=False) == (
        TrialState.PRUNED, "stopped early by the scheduler")
    assert final_state(None, errored=True)[0] == TrialState.FAILED


def test_states_are_marked_and_kept_when_the_store_is_down() -> None:
    marked: list[tuple[str, TrialState, str | None]] = []
    states = TrialStates(lambda tid, s, r: marked.append((tid, s, r)))
    done, cut = _trial({"budget_complete": 1.0, "fd": 2.0}), _trial({"kimg": 0.3, "fd": 5.0})
    states.on_trial_complete(0, [done, cut], done)
    states.on_trial_complete(0, [done, cut], cut)
    assert marked == [(done.trial_id, TrialState.COMPLETE, None),
                      (cut.trial_id, TrialState.PRUNED, "stopped early by the scheduler")]

    def down(tid: str, s: TrialState, r: str | None) -> None:
        raise ConnectionError("store down")

    lost = TrialStates(down)
    lost.on_trial_complete(0, [done], done)
    assert lost.states == {done.trial_id: TrialState.COMPLETE}
    assert lost.unrecorded == {done.trial_id: "ConnectionError: store down"}


def test_live_view_counts_and_best() -> None:
    states = TrialStates(lambda *a: None)
    out = io.StringIO()
    live = LiveView([("fd", "min")], states, out, total=3)
    done = _trial({"budget_complete": 1.0, "fd": 2.0, "trial_seconds": 4.0})
    running = _trial({"kimg": 0.1}, Trial.RUNNING)
    states.on_trial_complete(0, [done, running], done)
    live.on_trial_complete(0, [done, running], done)
    first, line = out.getvalue().splitlines()
    assert first.split()[:2] == ["complete", done.trial_id]
    assert "lr=0.1 r1" in first and "fd=2" in first and "(4 s)" in first
    assert "done 1/3" in line and "running 1" in line and "| best fd 2" in line


def test_live_view_counts_trials_ended_before_a_resume() -> None:
    """A resumed sweep's restored trials ended in the earlier run: no callback fires for them,
    yet they count as done (or failed), not as nothing."""
    live = LiveView([("fd", "min")], TrialStates(lambda *a: None), io.StringIO(), total=4)
    restored = [_trial({"budget_complete": 1.0, "fd": 2.0}), _trial({"kimg": 0.3}),
                _trial({}, Trial.ERROR)]
    line = live._line([*restored, _trial({}, Trial.PENDING)])
    assert "done 1/4" in line and "pending 1" in line and "failed 1" in line
    assert "pruned 1" in line
