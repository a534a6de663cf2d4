"""The network-manager keeps NodeConfigs equal to the planner's output, over a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.controllers.network_manager import NetworkManager
from clusterlink.planner import plan_federation, stable_mac
from clusterlink.store import ObjectStore
from tests.controllers.support import eventually, put, sqlite_store
from tests.unit.federations import cluster, cluster_node

CLUSTERS = [
    cluster("a", "gateway", ["10.1.0.0/16"], ["11.1.0.0/16"]),
    cluster("b", "p2p", ["10.2.0.0/16"], ["11.2.0.0/16"]),
]
NODES = [
    cluster_node(f"{c}-n{i}", c, f"192.168.{k}.{i}", gateway=i == 1, pod_cidrs=[f"10.{k}.{i}.0/24"])
    for k, c in enumerate("ab", start=1)
    for i in (1, 2)
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path)
    for obj in (*CLUSTERS, *NODES):
        put(opened, obj)
    yield opened
    opened.close()


@pytest.fixture
def manager(store: ObjectStore) -> Iterator[NetworkManager]:
    running = NetworkManager(store, mac_source=stable_mac)
    running.start()
    yield running
    running.stop()


def stored_specs(store: ObjectStore) -> dict[str, dict[str, list[str]]]:
    return {
        d["metadata"]["name"]: {
            key: sorted(json.dumps(i, sort_keys=True) for i in d["spec"].get(key) or [])
            for key in ("devices", "routes", "iptables", "fdbs", "arps")
        }
        for d in store.list("NodeConfig").items
    }


def planned_specs(clusters: list[Any], nodes: list[Any]) -> dict[str, dict[str, list[str]]]:
    plan = plan_federation(clusters, nodes, mac_source=stable_mac)
    return {
        name: {
            key: sorted(json.dumps(i, sort_keys=True) for i in items)
            for key, items in p.to_spec_document().items()
        }
        for name, p in plan.nodes.items()
    }


def condition(store: ObjectStore, kind: str, name: str) -> dict[str, Any] | None:
    conditions = (store.get(kind, name).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Valid"), None)


def test_nodeconfigs_appear_and_equal_the_plan(store: ObjectStore, manager: NetworkManager) -> None:
    expected = planned_specs(CLUSTERS, NODES)
    eventually(lambda: stored_specs(store) == expected)
    labels = {
        d["metadata"]["name"]: d["metadata"]["labels"] for d in store.list("NodeConfig").items
    }
    assert labels["a-n1"] == {"kosmos.io/cluster": "a"}


def test_a_removed_node_loses_its_nodeconfig_and_its_peers_forget_it(
    store: ObjectStore, manager: NetworkManager
) -> None:
    eventually(lambda: len(stored_specs(store)) == 4)
    store.delete("ClusterNode", "b-n2")
    expected = planned_specs(CLUSTERS, NODES[:3])
    eventually(lambda: stored_specs(store) == expected)


def test_a_moved_gateway_is_reflected_everywhere(
    store: ObjectStore, manager: NetworkManager
) -> None:
    eventually(lambda: len(stored_specs(store)) == 4)
    moved = [
        cluster_node("a-n1", "a", "192.168.1.1", pod_cidrs=["10.1.1.0/24"]),
        cluster_node("a-n2", "a", "192.168.1.2", gateway=True, pod_cidrs=["10.1.2.0/24"]),
    ]
    for node in moved:
        put(store, node)
    expected = planned_specs(CLUSTERS, [*moved, *NODES[2:]])
    eventually(lambda: stored_specs(store) == expected)


def test_a_restarted_manager_writes_nothing_when_nothing_changed(
    store: ObjectStore, manager: NetworkManager
) -> None:
    expected = planned_specs(CLUSTERS, NODES)
    eventually(lambda: stored_specs(store) == expected)
    eventually(lambda: condition(store, "Cluster", "a"))
    manager.stop()
    revision_before = store.list("NodeConfig").resource_version
    second = NetworkManager(store, mac_source=stable_mac)
    second.start()
    try:
        eventually(lambda: second.ready)
        eventually(lambda: second.queued_writes == 0)
        assert second.writes == 0
        assert store.list("NodeConfig").resource_version == revision_before
    finally:
        second.stop()


def test_a_broken_cluster_is_reported_and_nothing_else_changes(
    store: ObjectStore, manager: NetworkManager
) -> None:
    expected = planned_specs(CLUSTERS, NODES)
    eventually(lambda: stored_specs(store) == expected)
    bridge = {"ip": "nonsense", "ip6": "fd00::/64"}
    store.patch("Cluster", "b", {"spec": {"clusterLinkOptions": {"bridgeCIDRs": bridge}}})

    valid = eventually(
        lambda: (c := condition(store, "Cluster", "b")) and c["status"] == "False" and c
    )
    assert "spec.clusterLinkOptions.bridgeCIDRs.ip" in valid["message"]
    # b's nodes are held as they were; a only loses its routes toward b.
    after = eventually(lambda: (s := stored_specs(store)) and s["a-n1"] != expected["a-n1"] and s)
    assert after["b-n1"] == expected["b-n1"]
    assert after["b-n2"] == expected["b-n2"]
    assert after["a-n1"]["devices"] == expected["a-n1"]["devices"]
    assert all("10.2." not in r and "11.2." not in r for r in after["a-n1"]["routes"])


def test_an_unreadable_update_keeps_the_last_valid_version(
    store: ObjectStore, manager: NetworkManager
) -> None:
    expected = planned_specs(CLUSTERS, NODES)
    eventually(lambda: stored_specs(store) == expected)
    store.patch("Cluster", "a", {"spec": {"clusterLinkOptions": {"networkType": "mesh"}}})
    valid = eventually(
        lambda: (c := condition(store, "Cluster", "a")) and c["status"] == "False" and c
    )
    assert "spec.clusterLinkOptions.networkType" in valid["message"]
    assert "last valid version" in valid["message"]
    assert stored_specs(store) == expected


def test_objects_created_later_get_their_valid_condition(
    store: ObjectStore, manager: NetworkManager
) -> None:
    eventually(lambda: manager.ready)
    put(store, cluster("c", "p2p", ["10.3.0.0/16"], []))
    put(store, cluster_node("c-n1", "c", "192.168.3.1", gateway=True))
    valid = eventually(lambda: condition(store, "Cluster", "c"))
    assert (valid["status"], valid["reason"]) == ("True", "NoProblems")
    assert eventually(lambda: condition(store, "ClusterNode", "c-n1"))["status"] == "True"
    put(store, cluster("d", "p2p", [], [], pod_cidrs_override=["10.300.0.0/16"]))
    invalid = eventually(lambda: condition(store, "Cluster", "d"))
    assert "spec.clusterLinkOptions.podCIDRs[0]" in invalid["message"]
    assert invalid["status"] == "False"
