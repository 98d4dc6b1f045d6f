"""Optional system metrics (CPU, memory, disk, network; GPU where present) on a trial's run.

MLflow's own monitor (``system/...`` metrics, shown in the run's "System metrics" tab) samples
in a background thread of the trial's process. It needs ``psutil``, an optional extra
(``pip install 'ambientsweep[system-metrics]'``); asking for system metrics without it is a
user error raised before anything runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator

from ambientsweep.errors import UserError

SAMPLING_INTERVAL_S = 5.0


def check_available() -> None:
    """Raise a readable UserError when system metrics cannot be collected here."""
    if importlib.util.find_spec("psutil") is None:
        raise UserError("system metrics need the psutil package, which is not installed: "
                        "pip install 'ambientsweep[system-metrics]' (or pip install psutil), "
                        "or drop --system-metrics / tracking.system_metrics")


@contextlib.contextmanager
def system_metrics(uri: str, run_id: str, enabled: bool, *,
                   interval_s: float = SAMPLING_INTERVAL_S) -> Iterator[None]:
    """Sample system metrics into ``run_id`` while the body runs (nothing when disabled)."""
    if not enabled:
        yield
        return
    check_available()
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    monitor = SystemMetricsMonitor(run_id, sampling_interval=interval_s, resume_logging=True,
                                   tracking_uri=uri)
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()
