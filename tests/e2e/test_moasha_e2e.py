"""MOASHA through the real stack: Ray Tune stops dominated configurations, the rest complete."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ambientsweep.tracking.mlflow_log import TAG_BUDGET, TAG_FRONT, TAG_STATE
from tests.e2e.helpers import ray_trials, run_sweep, sweep_runs, write_sweep

pytestmark = pytest.mark.e2e


def test_moasha_stops_some_configurations_as_a_whole(tmp_path: Path, ray_tmp: str) -> None:
    # Learning rates from good to useless, in grid order: the later ones reach the first rung
    # dominated by the earlier ones and are stopped. Two replicates per configuration.
    path = write_sweep(tmp_path, """\
        name: mo_es
        base: tiny.yaml
        overrides:
          eval.every_kimg: 0.16    # a quarter of the 0.64 kimg budget: the rungs 0.25, 0.5
        space:
          train.lr: {grid: [3.0e-3, 1.0e-3, 1.0e-5, 1.0e-6]}
        objectives:
          - {metric: fd_digits_cnn, ref: 5000}
          - {metric: mem_ratio_pixels, ref: 1.0}
        replicates: 2
        early_stopping:
          scheduler: moasha
          metrics: [fd_digits_cnn, mem_ratio_pixels]
          grace_kimg: 0.16
          reduction_factor: 2
        search: {algorithm: grid, max_concurrent: 2}
        resources: {cpu: 1}
    """)
    workdir = tmp_path / "runs"
    run_sweep(path, workdir)
    parents, children, _ = sweep_runs(workdir, "mo_es")
    assert parents[0].info.status == "FINISHED"
    assert len(children) == 8
    by_config: dict[str, list] = defaultdict(list)
    for c in children:
        by_config[c.data.params["param.train.lr"]].append(c)
    states = {lr: {c.data.tags[TAG_STATE] for c in runs} for lr, runs in by_config.items()}
    # a configuration is promoted or stopped as a whole: its replicates share one state
    assert all(len(s) == 1 for s in states.values()), states
    pruned = [lr for lr, s in states.items() if s == {"pruned"}]
    complete = [lr for lr, s in states.items() if s == {"complete"}]
    assert pruned and complete and len(pruned) + len(complete) == 4, states
    for c in children:
        if c.data.tags[TAG_STATE] == "pruned":
            # it reached the rung that decided it, and that evaluation is in the record
            assert "fd_digits_cnn" in c.data.metrics
            assert c.data.tags[TAG_BUDGET] == "false"
            assert c.data.tags.get(TAG_FRONT) != "true"  # never on a front
        else:
            assert c.data.tags[TAG_BUDGET] == "true"
            assert "fd_digits_cnn" in c.data.metrics and "mem_ratio_pixels" in c.data.metrics
    assert any(c.data.tags.get(TAG_FRONT) == "true" for c in children)  # a non-empty front
    # Ray's own results: stopped trials ended before their budget, the rest at it
    last = [t.last_result for t in ray_trials(workdir, "mo_es")]
    assert sum(bool(r.get("budget_complete")) for r in last) == 2 * len(complete)
    stopped = [r for r in last if not r.get("budget_complete")]
    assert stopped and all(r["budget_fraction"] < 1.0 for r in stopped)
