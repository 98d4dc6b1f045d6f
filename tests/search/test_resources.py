"""Counting what a local Ray gets (affinity, cgroup quota) and fit checks, without Ray."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ambientsweep.errors import UserError
from ambientsweep.search.resources import (
    cgroup_cpu_quota,
    check_resources,
    trials_at_once,
    usable_cpus,
)
from ambientsweep.spec.schema import Resources
from tests.conftest import TINY_BASE

AFFINITY = len(os.sched_getaffinity(0))


def test_cgroup_v2_quota_caps_the_cpus(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == pytest.approx(1.5)
    assert usable_cpus(tmp_path) == min(AFFINITY, 1)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    assert usable_cpus(tmp_path) == AFFINITY


def test_cgroup_v1_quota_and_no_limit(tmp_path: Path) -> None:
    cpu = tmp_path / "cpu"
    cpu.mkdir()
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    (cpu / "cpu.cfs_quota_us").write_text("50000\n")
    assert cgroup_cpu_quota(tmp_path) == pytest.approx(0.5)
    assert usable_cpus(tmp_path) == 1  # a fraction of a CPU still runs one trial


def test_no_cgroup_files_means_affinity(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path) is None
    assert usable_cpus(tmp_path) == AFFINITY


def test_fit_checks() -> None:
    assert trials_at_once(Resources(cpu=1), {"CPU": 4.0, "GPU": 0.0}) == 4
    assert trials_at_once(Resources(cpu=1, gpu=0.5), {"CPU": 4.0, "GPU": 1.0}) == 2
    assert trials_at_once(Resources(cpu=2, gpu=1), {"CPU": 4.0, "GPU": 0.0}) == 0
    check_resources(Resources(cpu=2), [{"CPU": 1.0}, {"CPU": 2.0}], "x")  # node 1 fits
    with pytest.raises(UserError, match=r"no node of the cluster has that \(node 0: 1 CPU"):
        check_resources(Resources(cpu=2), [{"CPU": 1.0, "GPU": 0.0}], "the cluster")


def test_plan_imports_no_ray(tmp_path: Path) -> None:
    """`ambientsweep plan` counts CPUs without Ray (importing it costs seconds and memory)."""
    (tmp_path / "tiny.yaml").write_text(TINY_BASE)
    (tmp_path / "s.yaml").write_text(textwrap.dedent("""\
        name: noray
        base: tiny.yaml
        space: {train.lr: {grid: [0.001]}}
        objectives: [{metric: mem_ratio_pixels}]
    """))
    code = textwrap.dedent(f"""\
        import sys
        from ambientsweep.cli import app
        try:
            app(["plan", {str(tmp_path / 's.yaml')!r}, "--workdir", {str(tmp_path / 'w')!r}])
        except SystemExit as e:
            assert not e.code, e.code
        print("RAY_LOADED", sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=Path(__file__).parents[2])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "estimate" in res.stdout and "this machine has" in res.stdout
    assert "RAY_LOADED []" in res.stdout
