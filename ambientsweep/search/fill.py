"""No idle tail (`resources.fill_idle`): the last trials of a sweep take the CPUs freed on their
node by the trials that ended, by raising their own torch threads at a report boundary.

Chosen over Ray Tune's ``ResourceChangingScheduler``: that one cannot run with
``reuse_actors=True`` and resizes by pause -> checkpoint -> restore in a new actor (a fresh
worker importing torch, seconds per change), while a thread change costs nothing and needs no
checkpoint. Ray's logical resources stay as asked: the extra threads only use CPUs no other
trial of this sweep will ask for, because the driver opens the board only once every trial of
the sweep has started (none pending, none left for the searcher to suggest).

Correct on a cluster: each trial registers the Ray node it runs on, and a trial only ever gets
the free CPUs of its own node (its node's CPU count less the CPUs of this sweep's trials still
running there), shared evenly among the trials on that node. CPUs used by other jobs on a
shared cluster are not seen. The board is a named Ray actor, so it works across nodes without
a shared file system.

What it costs: a different thread count changes float rounding, so a trial whose threads were
raised is not bitwise identical to the same trial run again (see README, "No idle tail").
"""

from __future__ import annotations

import math
from typing import Any

import ray
from ray import tune
from ray.exceptions import RayError
from ray.tune.experiment import Trial

BOARD_NAME = "ambientsweep-thread-board"


def allocate(running: dict[str, str], base: int, node_cpus: dict[str, float],
             cpu: float | None = None) -> dict[str, int]:
    """Threads per running trial: `base` plus an even share of its own node's free CPUs.

    Args:
        running: trial id -> the Ray node id it runs on.
        base: torch threads each trial started with.
        node_cpus: node id -> that node's CPU count.
        cpu: CPUs each trial holds (`resources.cpu`; default `base`).
    """
    held = float(base if cpu is None else cpu)
    out: dict[str, int] = {}
    by_node: dict[str, list[str]] = {}
    for trial, node in running.items():
        by_node.setdefault(node, []).append(trial)
    for node, trials in by_node.items():
        trials.sort()
        free = max(0, math.floor(node_cpus.get(node, 0) - held * len(trials) + 1e-9))
        share, extra = divmod(free, len(trials))
        for i, t in enumerate(trials):
            out[t] = base + share + (1 if i < extra else 0)
    return out


class ThreadBoard:
    """Which trials run where, and (once the sweep's last trial started) their thread counts.

    A trial Tune has started but whose worker has not registered yet (it is still importing,
    opening its run) holds CPUs the board cannot place: until every trial the driver reports
    live has registered or left, everyone keeps `base` threads, so a freed CPU is never handed
    out twice.
    """

    def __init__(self, base: int, node_cpus: dict[str, float], cpu: float | None = None) -> None:
        self.base, self.node_cpus, self.cpu = base, dict(node_cpus), cpu
        self.running: dict[str, str] = {}
        self.gone: set[str] = set()  # trials that left (their worker ended)
        self.live: set[str] = set()  # trials the driver last saw started and not ended
        self.open = False

    def register(self, trial_id: str, node_id: str) -> None:
        self.running[trial_id] = node_id
        self.gone.discard(trial_id)

    def leave(self, trial_id: str) -> None:
        self.running.pop(trial_id, None)
        self.gone.add(trial_id)

    def set_open(self, value: bool, live: list[str] | None = None) -> None:
        self.open = value
        self.live = set(live or ())

    def threads(self, trial_id: str) -> int:
        if not self.open or trial_id not in self.running:
            return self.base
        if any(t not in self.running and t not in self.gone for t in self.live):
            return self.base  # a started trial has not registered: its node is unknown
        got = allocate(self.running, self.base, self.node_cpus, self.cpu)
        return got.get(trial_id, self.base)


def start_board(base: int, cpu: float) -> Any:
    """The sweep's board (a named, CPU-less actor in this job's namespace) sized to the alive
    nodes' CPUs; `base` threads and `cpu` CPUs per trial."""
    nodes = {n["NodeID"]: float(n["Resources"].get("CPU", 0)) for n in ray.nodes()
             if n.get("Alive")}
    actor = ray.remote(num_cpus=0)(ThreadBoard)
    return actor.options(name=BOARD_NAME, get_if_exists=True).remote(base, nodes, cpu)


class OpenWhenAllStarted(tune.Callback):
    """Driver side: opens the board when every one of the sweep's trials has started."""

    def __init__(self, board: Any, num_trials: int) -> None:
        self.board, self.num_trials = board, num_trials
        self._state: tuple[bool, list[str]] = (False, [])

    def _check(self, trials: list[Trial], starting: Trial | None = None,
               ending: Trial | None = None) -> None:
        waiting = [t for t in trials
                   if t.status in (Trial.PENDING, Trial.PAUSED) and t not in (starting, ending)]
        now = not waiting and len(trials) >= self.num_trials
        live = sorted(t.trial_id for t in trials
                      if (t.status == Trial.RUNNING or t is starting) and t is not ending)
        if (now, live) != self._state:
            self._state = (now, live)
            self.board.set_open.remote(now, live)

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        # Tune calls this before it sets the trial RUNNING: the starting trial still reads
        # PENDING here, and the sweep's last trial would never open the board.
        self._check(trials, starting=trial)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        self._check(trials, ending=trial)  # (still RUNNING here)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        self._check(trials, ending=trial)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial,
                         **info: Any) -> None:
        self._check(trials)  # requeued PENDING: it will start again


class ThreadFollower:
    """Trial side: registers with the board; :meth:`poll` applies the board's thread count."""

    def __init__(self, trial_id: str, current: int) -> None:
        self.trial_id, self.current = trial_id, current
        self.highest = current  # the most threads it ran on (tagged on the trial's run)
        self.board = ray.get_actor(BOARD_NAME)
        ray.get(self.board.register.remote(trial_id, ray.get_runtime_context().get_node_id()))

    def poll(self) -> int:
        """Ask the board (at a report boundary) and set torch's threads when they changed; a
        board that does not answer leaves them as they are."""
        try:
            threads = int(ray.get(self.board.threads.remote(self.trial_id), timeout=10))
        except (RayError, TimeoutError):
            return self.current
        if threads != self.current:
            import torch

            torch.set_num_threads(threads)
            self.current = threads
            self.highest = max(self.highest, threads)
        return threads

    def leave(self) -> None:
        self.board.leave.remote(self.trial_id)
