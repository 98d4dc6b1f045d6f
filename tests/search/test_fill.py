"""resources.fill_idle: per-node thread shares, the board, and when the driver opens it
(real Ray Trial objects, without starting Ray)."""

from __future__ import annotations

from typing import Any

from ray.tune.experiment import Trial

from ambientsweep.search.fill import OpenWhenAllStarted, ThreadBoard, allocate
from ambientsweep.spec.schema import Resources


def test_a_trial_only_gets_its_own_nodes_free_cpus() -> None:
    # node a: 4 CPUs, one trial left; node b: 8 CPUs, three trials left; node c: full.
    running = {"t1": "a", "t2": "b", "t3": "b", "t4": "b", "t5": "c", "t6": "c"}
    got = allocate(running, base=1, node_cpus={"a": 4, "b": 8, "c": 2})
    assert got == {"t1": 4, "t2": 3, "t3": 3, "t4": 2, "t5": 1, "t6": 1}
    assert sum(v for k, v in got.items() if running[k] == "b") == 8
    assert allocate({"t1": "a"}, base=2, node_cpus={"a": 2}) == {"t1": 2}
    assert allocate({"t1": "a"}, base=2, node_cpus={"a": 1}) == {"t1": 2}  # never below base
    # Half a CPU a trial: the CPUs the others held are what is free.
    assert allocate({"t1": "a"}, base=1, node_cpus={"a": 2}, cpu=0.5) == {"t1": 2}
    assert allocate({"t1": "a", "t2": "a"}, base=1, node_cpus={"a": 4}, cpu=2) == {"t1": 1,
                                                                                 "t2": 1}


def test_the_board_gives_base_threads_until_opened() -> None:
    board = ThreadBoard(base=1, node_cpus={"a": 2})
    board.register("t1", "a")
    assert board.threads("t1") == 1
    board.set_open(True)
    assert board.threads("t1") == 2
    board.register("t2", "a")
    assert board.threads("t1") == 1 and board.threads("t2") == 1
    board.leave("t2")
    assert board.threads("t1") == 2
    assert board.threads("unknown") == 1


def test_a_started_trial_not_yet_registered_keeps_the_others_at_base() -> None:
    board = ThreadBoard(base=1, node_cpus={"a": 2})
    board.register("t1", "a")
    board.register("t2", "a")
    board.set_open(True, ["t1", "t2", "t3"])  # t3 started; its worker is still importing
    board.leave("t2")
    assert board.threads("t1") == 1  # t2's CPU is t3's, not t1's
    board.register("t3", "a")
    assert board.threads("t1") == 1 and board.threads("t3") == 1
    board.leave("t1")
    assert board.threads("t3") == 2  # t1 left: nobody else is live


class _Handle:
    """The board behind the `.method.remote(...)` calls an actor handle takes."""

    def __init__(self, board: ThreadBoard) -> None:
        self.board = board

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.board, name)
        return type("M", (), {"remote": staticmethod(method)})


def _trial(status: str) -> Trial:
    t = Trial("__fake", config={}, stub=True)
    t.set_status(status)
    return t


def test_the_driver_opens_the_board_once_every_trial_started() -> None:
    board = ThreadBoard(base=1, node_cpus={"a": 2})
    cb = OpenWhenAllStarted(_Handle(board), num_trials=3)
    trials = [_trial(Trial.RUNNING), _trial(Trial.RUNNING)]
    cb.on_trial_start(0, trials, trials[1])
    assert not board.open  # the searcher has a third trial to suggest
    trials.append(_trial(Trial.PENDING))
    trials[0].set_status(Trial.TERMINATED)
    cb.on_trial_complete(1, trials, trials[0])
    assert not board.open  # the third waits for a slot
    cb.on_trial_start(2, trials, trials[2])  # as Tune calls it: before it sets RUNNING
    assert board.open
    assert board.live == {trials[1].trial_id, trials[2].trial_id}
    trials[2].set_status(Trial.RUNNING)
    cb.on_trial_complete(3, trials, trials[2])  # as Tune calls it: still RUNNING
    assert board.open and board.live == {trials[1].trial_id}
    trials[2].set_status(Trial.TERMINATED)
    trials[1].set_status(Trial.PENDING)  # a failed trial requeued to retry: close again
    cb.on_trial_recover(4, trials, trials[1])
    assert not board.open
    trials[1].set_status(Trial.ERROR)  # out of retries
    cb.on_trial_error(5, trials, trials[1])
    assert board.open and board.live == set()


def test_fill_idle_is_off_unless_asked() -> None:
    assert Resources().fill_idle is False
    assert Resources(fill_idle=True).fill_idle is True
