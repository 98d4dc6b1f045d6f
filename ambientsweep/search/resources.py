"""What this machine offers a local Ray, and whether a trial's request fits (no ray import).

CPUs are counted as Ray counts them for itself: the CPUs this process may run on
(``sched_getaffinity``), capped by the cgroup CPU quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us / cpu.cfs_period_us``) that containers and batch schedulers set.
``os.cpu_count()`` would count the host's cores and oversubscribe a container. Once Ray has
started, its own ``cluster_resources()`` is the truth (:mod:`ambientsweep.search.cluster`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ambientsweep.errors import UserError
from ambientsweep.spec.schema import Resources

CGROUP = Path("/sys/fs/cgroup")


def local_resources() -> dict[str, float]:
    """What a local Ray gets: the usable CPUs and the visible NVIDIA GPUs (without importing
    torch, which would cost the driver ~640 MB and seconds)."""
    return {"CPU": float(usable_cpus()), "GPU": float(visible_gpus())}


def usable_cpus(cgroup: Path = CGROUP) -> int:
    """CPUs this process may use: affinity, capped by the cgroup quota (at least 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup)
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)


def cgroup_cpu_quota(cgroup: Path = CGROUP) -> float | None:
    """CPUs' worth of time the cgroup allows (quota / period), or None when unlimited."""
    v2 = cgroup / "cpu.max"  # "max 100000" or "150000 100000"
    if v2.is_file():
        parts = v2.read_text().split()
        if len(parts) == 2 and parts[0] != "max":
            return _ratio(parts[0], parts[1])
        return None
    v1 = cgroup / "cpu" / "cpu.cfs_quota_us"
    if not v1.is_file():
        v1 = cgroup / "cpu,cpuacct" / "cpu.cfs_quota_us"
    if v1.is_file():
        period = v1.with_name("cpu.cfs_period_us")
        if period.is_file():
            return _ratio(v1.read_text().strip(), period.read_text().strip())
    return None


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None  # v1 writes -1 for "no limit"


def visible_gpus() -> int:
    """NVIDIA GPUs this process may use (CUDA_VISIBLE_DEVICES, else the driver's list)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    gpus = Path("/proc/driver/nvidia/gpus")  # one entry per GPU the driver knows
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


def trials_at_once(resources: Resources, have: dict[str, float]) -> int:
    """How many trials of this request fit at once into `have` (0 when none fits)."""
    fit = int(have.get("CPU", 0.0) // resources.cpu)
    if resources.gpu > 0:
        fit = min(fit, int(have.get("GPU", 0.0) // resources.gpu))
    return fit


def check_resources(resources: Resources, nodes: list[dict[str, float]], where: str) -> None:
    """A trial's request must fit on at least one node, or the trial would pend forever."""
    need = {"CPU": resources.cpu, "GPU": resources.gpu}
    if any(all(n.get(k, 0.0) >= v for k, v in need.items()) for n in nodes):
        return
    have = "; ".join(f"node {i}: {n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU"
                     for i, n in enumerate(nodes))
    raise UserError(
        f"resources: each trial asks for {resources.cpu:g} CPU and {resources.gpu:g} GPU, "
        f"but no node of {where} has that ({have}). Lower resources.cpu / resources.gpu "
        "or run against a cluster that has them (--address)."
    )
