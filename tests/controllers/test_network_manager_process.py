"""``clusterlink network-manager`` as a process: probes, leader election, clean shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterlink.store import ObjectStore
from tests.controllers.support import (
    FAST_LEASE,
    eventually,
    http_get,
    lease_holder,
    probe_port,
    put,
    sqlite_store,
    start_component,
    terminate,
)
from tests.unit.federations import cluster, cluster_node


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    store = sqlite_store(tmp_path)
    put(store, cluster("a", "p2p", ["10.1.0.0/16"], []))
    put(store, cluster("b", "p2p", ["10.2.0.0/16"], []))
    put(store, cluster_node("a-n1", "a", "192.168.1.1", gateway=True))
    put(store, cluster_node("b-n1", "b", "192.168.2.1", gateway=True))
    store.close()
    return tmp_path / "control.db"


def holder(store: ObjectStore) -> str:
    return lease_holder(store, "network-manager")


def test_leader_writes_follower_takes_over_on_sigterm(store_path: Path) -> None:
    url = f"sqlite://{store_path}?poll_interval=0.01"
    processes = {
        identity: start_component(
            "network-manager", "--store", url, "--identity", identity, *FAST_LEASE
        )
        for identity in ("first", "second")
    }
    store = sqlite_store(store_path.parent)
    try:
        ports = {identity: probe_port(process) for identity, process in processes.items()}
        eventually(lambda: len(store.list("NodeConfig").items) == 2)
        leader = eventually(lambda: holder(store))
        follower = "second" if leader == "first" else "first"
        assert http_get(ports[leader], "/healthz")[0] == 200
        eventually(lambda: http_get(ports[leader], "/readyz")[0] == 200)
        assert http_get(ports[follower], "/readyz")[0] == 503  # not leading: not serving
        assert "clusterlink_network_manager_writes_total" in http_get(ports[leader], "/metrics")[1]

        assert terminate(processes[leader]) == 0
        eventually(lambda: holder(store) == follower)
        store.delete("ClusterNode", "b-n1")
        eventually(lambda: len(store.list("NodeConfig").items) == 1)
    finally:
        for process in processes.values():
            terminate(process)
        store.close()
