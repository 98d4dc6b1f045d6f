"""bench/schedule.py's best schedule: waves of 1-thread trials, a leftover on 2 threads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "bench" / "schedule.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_schedule", PATH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_best_schedule_is_the_issues_formula() -> None:
    best = _module().best_schedule
    # The issue's example: 5 trials of 77 s, 2 slots, 1.6x on 2 threads: 2 x 77 + 77 / 1.6.
    assert best([77.0] * 5, 1.6) == pytest.approx(2 * 77 + 77 / 1.6)
    assert best([10.0, 30.0, 20.0, 40.0], 1.6) == pytest.approx(40 + 20)  # longest first
    assert best([10.0, 30.0, 20.0], 2.0) == pytest.approx(30 + 10 / 2)
    assert best([5.0], 1.5) == pytest.approx(5 / 1.5)


@pytest.mark.parametrize("sweep", ["default", "replicates"])
def test_the_fill_copy_has_fill_idle_on_and_the_same_trials(sweep: str, tmp_path: Path) -> None:
    """The copy the benchmark runs with fill_idle (a text replace once missed the default
    sweep's block-style `resources:`): fill_idle on, the same trial configurations."""
    from ambientsweep.spec.load import grid_points, load_sweep

    bench = _module()
    path = (PATH.parents[1] / "sweeps" / "sfbd_clean_fraction.yaml" if sweep == "default"
            else bench._replicates_sweep(tmp_path, 24.0))
    plain, fill = load_sweep(path), load_sweep(bench._with_fill(path, tmp_path))
    assert fill.spec.resources.fill_idle and not plain.spec.resources.fill_idle
    assert fill.spec.name == "fill-" + plain.spec.name
    configs = [[s.trial_config(p, r).config_hash() for p in grid_points(s.spec)
                for r in range(s.spec.replicates)] for s in (plain, fill)]
    assert configs[0] == configs[1] and len(configs[0]) == (5 if sweep == "default" else 9)
