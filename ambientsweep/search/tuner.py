"""Build the Tune run (scheduler, resources, failure and checkpoint policy) and fit it.

One call runs a new sweep or resumes an interrupted one from Ray's experiment state in
``sweeps/<name>/ray/<name>``; trials that finished are never run twice.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune import ResultGrid
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from ambientsweep.search.schedulers import build_scheduler as build_scheduler


@dataclass(frozen=True)
class TuneSetup:
    name: str
    storage_path: str
    param_space: dict[str, Any]
    search_alg: Searcher | None
    scheduler: TrialScheduler | None
    num_samples: int
    max_concurrent: int | None
    resources: dict[str, float]
    max_failures: int


def has_state(experiment: str) -> bool:
    """Whether Ray's experiment state is at `experiment` (a folder or a pyarrow-fs URI).

    NOTE: not ``Tuner.can_restore``, which looks for the ``tuner.pkl`` only ``Tuner`` writes;
    ``tune.run`` writes ``experiment_state-*.json``.
    """
    import pyarrow.fs as pafs

    if "://" in experiment:
        fs, path = pafs.FileSystem.from_uri(experiment)
    else:
        fs, path = pafs.LocalFileSystem(), str(Path(experiment).expanduser().resolve())
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return any(Path(i.path).name.startswith("experiment_state") for i in infos)


def fit(setup: TuneSetup, trainable: Callable[[dict[str, Any]], None],
        callbacks: list[tune.Callback], resume: bool) -> ResultGrid:
    """Run (or resume) the sweep's trials; returns Ray's results of every trial.

    NOTE: ``Tuner.restore`` takes no RunConfig: the restored Tuner runs with the callbacks
    pickled when the sweep began, which lost their tracking client and terminal, and there is
    no public way to give live ones back (ray-project/ray#41364; the old code wrote the private
    ``tuner._local_tuner._run_config``). ``tune.run``, which ``Tuner.fit`` calls underneath
    with the same arguments, takes the callbacks and a ``ResumeConfig`` on every call, so a
    new and a resumed sweep take one path. Unfinished and errored trials are resumed.
    """
    experiment = f"{setup.storage_path.rstrip('/')}/{setup.name}"
    resume_config = None
    if resume and has_state(experiment):
        resume_config = tune.ResumeConfig(unfinished=tune.ResumeConfig.ResumeType.RESUME,
                                          errored=tune.ResumeConfig.ResumeType.RESUME)
    watch = InterruptWatch()
    before = signal.getsignal(signal.SIGINT)
    try:
        analysis = _run(setup, trainable, [*callbacks, watch], resume_config)
    finally:
        if threading.current_thread() is threading.main_thread() and before is not None:
            signal.signal(signal.SIGINT, before)  # neither tune.run's nor ours outlives it
    # tune.run's own Ctrl-C handler ends the run gracefully (Ray's state saved) and returns;
    # the trials it stopped may read TERMINATED, and must not count as ended (or pruned).
    if watch.interrupted.is_set() or any(
            t.status not in (Trial.TERMINATED, Trial.ERROR) for t in analysis.trials):
        raise KeyboardInterrupt
    return ResultGrid(analysis)


def _run(setup: TuneSetup, trainable: Callable[[dict[str, Any]], None],
         callbacks: list[tune.Callback], resume_config: Any) -> Any:
    return tune.run(
        tune.with_resources(trainable, setup.resources),
        name=setup.name, storage_path=setup.storage_path, config=setup.param_space,
        search_alg=setup.search_alg, scheduler=setup.scheduler,
        num_samples=setup.num_samples, max_concurrent_trials=setup.max_concurrent,
        reuse_actors=True, callbacks=callbacks, verbose=0,
        max_failures=setup.max_failures, raise_on_failed_trial=False,
        # Retention: Tune keeps the trial's last intermediate checkpoint (the one copy; the
        # trial deletes its own after reporting it); the final one is the trial folder's.
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_at_end=False),
        resume_config=resume_config,
    )


class InterruptWatch(tune.Callback):
    """Notes a Ctrl-C that tune.run's own SIGINT handler takes (it ends the run and returns as
    if it had finished). `setup` runs in the driver's main thread after tune.run installed its
    handler; ours wraps it and hands every signal on."""

    def __init__(self) -> None:
        self.interrupted = threading.Event()

    def setup(self, **info: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        inner = signal.getsignal(signal.SIGINT)

        def note(signum: int, frame: Any) -> None:
            self.interrupted.set()
            signal.signal(signal.SIGINT, inner)  # tune.run's restores the one before it
            if callable(inner):
                inner(signum, frame)

        signal.signal(signal.SIGINT, note)
