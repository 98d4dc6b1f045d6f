"""A file-backed tracking store is refused on a cluster with nodes on other hosts."""

from __future__ import annotations

import pytest

from ambientsweep.errors import UserError
from ambientsweep.search.cluster import Cluster, check_store_reachable


def _cluster(*hosts: str, address: str | None = "10.0.0.1:6379") -> Cluster:
    return Cluster(address=address, nodes=[], total={}, hosts=frozenset(hosts),
                   driver_host="127.0.0.1")


@pytest.mark.parametrize("uri", ["sqlite:////shared/mlflow.db", "file:///shared/mlruns",
                                 "/shared/mlruns"])
def test_file_store_with_a_remote_node_is_refused_naming_the_recipe(uri: str) -> None:
    with pytest.raises(UserError, match=r"10\.9\.9\.9.*Running elsewhere.*mlflow server"):
        check_store_reachable(uri, _cluster("127.0.0.1", "10.9.9.9"))


def test_server_store_or_same_host_nodes_pass() -> None:
    check_store_reachable("http://10.0.0.1:5000", _cluster("127.0.0.1", "10.9.9.9"))
    check_store_reachable("sqlite:////tmp/mlflow.db", _cluster("127.0.0.1", "127.0.0.1"))
    check_store_reachable("sqlite:////tmp/mlflow.db", _cluster("10.9.9.9", address=None))
