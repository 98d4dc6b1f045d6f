"""End to end, resources.fill_idle: a real sweep's last trial takes the CPUs its finished
neighbours freed (BENCHMARKS.md §7 found a sweep where it never did)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ambientsweep.tracking.tags import TAG_THREADS
from tests.e2e.helpers import run_sweep, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e


def test_the_last_trial_raises_its_threads(tmp_path: Path, ray_tmp: str) -> None:
    """2 one-CPU trials, one at a time: the second starts after the first ended, so only its
    own start can open the board (Tune reports that start before the trial reads RUNNING).
    It ends up on more than one thread, never on more than the machine has; the first, with
    a trial still to come, keeps one."""
    path = write_sweep(tmp_path, """\
        name: fill
        base: tiny.yaml
        overrides:
          train.kimg: 3
          train.log_every_kimg: 0.1
        space:
          train.lr: {grid: [0.001, 0.002]}
        objectives:
          - {metric: fd_digits_cnn}
        search: {algorithm: grid, max_concurrent: 1}
        resources: {cpu: 1, fill_idle: true}
    """)
    run_sweep(path, tmp_path / "w", "-f", "csv")
    _, children, _ = sweep_runs(tmp_path / "w", "fill")
    assert len(children) == 2 and {c.info.status for c in children} == {"FINISHED"}
    first, last = sorted(children, key=lambda c: c.info.start_time)
    assert TAG_THREADS not in first.data.tags
    raised = int(last.data.tags.get(TAG_THREADS, "1"))
    assert 2 <= raised <= (os.cpu_count() or 2), last.data.tags
