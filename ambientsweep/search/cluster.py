"""Start, connect to and stop Ray; Ray's own logging goes to the sweep's log file.

Before Ray starts, :mod:`ambientsweep.search.resources` sizes a local Ray to this machine;
after, :func:`ray.cluster_resources` and :func:`ray.nodes` are the truth (a remote cluster, or
a local one that counted otherwise).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from ambientsweep.errors import UserError
from ambientsweep.search.resources import local_resources

RAY_LOGGERS = ("ray", "ray.tune", "ray.air", "ray.train")


@dataclass(frozen=True)
class Cluster:
    address: str | None  # None: a local Ray this process started
    nodes: list[dict[str, float]]  # CPU and GPU of each alive node (for fit checks)
    total: dict[str, float]  # ray.cluster_resources(): CPU and GPU of the whole cluster
    hosts: frozenset[str] = frozenset()  # IP addresses of the alive nodes
    driver_host: str = ""  # this process's node IP


def start_ray(address: str | None, log_file: Path) -> Cluster:
    """Connect to `address` (or RAY_ADDRESS), or start a local Ray sized to this machine."""
    log_ray_to_file(log_file)
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  logging_level=logging.WARNING, configure_logging=False)
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(f"cannot connect to the Ray cluster at {address}: {e}. "
                            "Check the address and, from Ray 2.59, the auth token "
                            "(RAY_AUTH_TOKEN or `ray get-auth-token`).") from None
    else:
        res = local_resources()
        if os.environ.get("AMBIENTSWEEP_RAY_TMPDIR"):  # tests: find and clean Ray by path
            kwargs["_temp_dir"] = os.environ["AMBIENTSWEEP_RAY_TMPDIR"]
        with stderr_to(log_file):  # Ray's C++ start-up notices go to the log, not the terminal
            ray.init(num_cpus=int(res["CPU"]), num_gpus=int(res["GPU"]),
                     object_store_memory=512 * 1024**2, **kwargs)
    return connected_cluster(address)


def connected_cluster(address: str | None) -> Cluster:
    """The running Ray's nodes and totals, as Ray reports them."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    nodes = [_cpu_gpu(n["Resources"]) for n in alive]
    return Cluster(address=address, nodes=nodes, total=_cpu_gpu(ray.cluster_resources()),
                   hosts=frozenset(str(n.get("NodeManagerAddress", "")) for n in alive),
                   driver_host=ray.util.get_node_ip_address())


def check_store_reachable(uri: str, cluster: Cluster) -> None:
    """A file-backed store (SQLite, file://) works only when every node is this host."""
    if cluster.address is None or (not uri.startswith(("sqlite:", "file:")) and "://" in uri):
        return  # a local Ray is this host only
    here = _this_host_addresses() | {cluster.driver_host}
    others = sorted(h for h in cluster.hosts if h not in here and not h.startswith("127."))
    if others:
        raise UserError(
            f"the cluster has nodes on other hosts ({', '.join(others)}) but the tracking store "
            f"{uri} is a file on this one, which they cannot write. Run a tracking server and "
            "point the sweep at it (README, 'Running elsewhere': `mlflow server --host 0.0.0.0 "
            "--backend-store-uri sqlite:///mlflow.db --artifacts-destination <shared folder>` "
            "and `tracking: {uri: http://<this host>:5000}` or --tracking-uri).")


def _this_host_addresses() -> set[str]:
    """The IP addresses this host answers to (loopback aside), as far as it can tell."""
    import socket

    out = set()
    for name in {socket.gethostname(), socket.getfqdn()}:
        with contextlib.suppress(OSError):
            out |= {str(a[4][0]) for a in socket.getaddrinfo(name, None)}
    return out


def _cpu_gpu(resources: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in resources.items() if k in ("CPU", "GPU")}


def stop_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()


@contextlib.contextmanager
def stderr_to(log_file: Path) -> Iterator[None]:
    """Send file descriptor 2 (also C++ writes) to `log_file` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_file, "ab") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def log_ray_to_file(log_file: Path) -> None:
    """Ray's Python loggers write to `log_file` (sweeps/<name>/logs/ray.log), not the terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in RAY_LOGGERS:
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                lg.removeHandler(h)
        lg.addHandler(handler)
        lg.propagate = False
