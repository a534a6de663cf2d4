"""The controller-manager keeps a disabled Calico IPPool for each remote CIDR its cluster
routes into the tunnels (the routes of its own NodeConfigs in the control store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.controllers.controller_manager import ControllerManager
from clusterlink.store import ObjectStore
from tests.controllers.support import eventually, sqlite_store
from tests.controllers.test_controller_manager import (
    CLUSTER,
    cluster_document,
    ippool,
    node_document,
    reconciles,
)

OURS = {"app.kubernetes.io/managed-by": "clusterlink"}


def node_config(name: str, cidrs: list[str], cluster: str = CLUSTER) -> dict[str, Any]:
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "NodeConfig",
        "metadata": {"name": name, "labels": {"kosmos.io/cluster": cluster}},
        "spec": {"routes": [{"cidr": c, "gw": "198.18.0.1", "dev": "vx-local"} for c in cidrs]},
    }


def set_routes(control: ObjectStore, name: str, cidrs: list[str]) -> None:
    current = control.get("NodeConfig", name)
    routes = node_config(name, cidrs)["spec"]["routes"]
    control.update({**current, "spec": {**current["spec"], "routes": routes}})


def pools(member: ObjectStore) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in member.list("IPPool").items}


def our_pools(member: ObjectStore) -> set[str]:
    return {name for name, pool in pools(member).items() if pool["metadata"].get("labels") == OURS}


@pytest.fixture
def control(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path, "control")
    opened.create(cluster_document(CLUSTER, cni="calico"))
    yield opened
    opened.close()


@pytest.fixture
def member(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path, "member-a")
    opened.create(node_document("n1", ["10.1.1.0/24"], ["192.168.1.1"]))
    opened.create(node_document("n2", ["10.1.2.0/24"], ["192.168.1.2"]))
    opened.create(ippool("default-ipv4-ippool", "10.1.0.0/16"))
    opened.create(ippool("clusterlink-handmade", "192.168.100.0/24", disabled=True))
    yield opened
    opened.close()


@pytest.fixture
def manager(control: ObjectStore, member: ObjectStore) -> Iterator[ControllerManager]:
    running = ControllerManager(control, member, CLUSTER)
    running.start()
    eventually(lambda: running.ready)
    yield running
    running.stop()


def test_routes_become_disabled_pools_and_leave_with_them(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    control.create(node_config("a-n1", ["10.2.0.0/16", "172.31.0.0/24"]))
    control.create(node_config("a-n2", ["10.2.0.0/16", "172.31.1.0/24", "fd00:2::/56"]))
    expected = {"clusterlink-10-2-0-0-16", "clusterlink-172-31-0-0-23", "clusterlink-fd00-2---56"}
    eventually(lambda: our_pools(member) == expected)
    assert pools(member)["clusterlink-10-2-0-0-16"]["spec"] == {
        "cidr": "10.2.0.0/16",
        "natOutgoing": False,
        "disabled": True,
        "disableBGPExport": True,
        "vxlanMode": "Never",
        "ipipMode": "Never",
    }

    set_routes(control, "a-n1", [])
    set_routes(control, "a-n2", ["10.2.0.0/16"])
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-16"})
    set_routes(control, "a-n2", [])
    eventually(lambda: our_pools(member) == set())
    assert set(pools(member)) == {"default-ipv4-ippool", "clusterlink-handmade"}


def test_a_drifted_pool_is_restored_and_a_converged_one_never_rewritten(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    control.create(node_config("a-n1", ["10.2.0.0/16"]))
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-16"})
    member.patch("IPPool", "clusterlink-10-2-0-0-16", {"spec": {"natOutgoing": True}})
    eventually(lambda: pools(member)["clusterlink-10-2-0-0-16"]["spec"]["natOutgoing"] is False)

    eventually(lambda: manager.queued == 0)
    revision = pools(member)["clusterlink-10-2-0-0-16"]["metadata"]["resourceVersion"]
    writes, before = manager.writes, reconciles(manager, "IPPools")
    control.patch("NodeConfig", "a-n1", {"metadata": {"annotations": {"touched": "yes"}}})
    eventually(lambda: reconciles(manager, "IPPools") > before)
    eventually(lambda: manager.queued == 0)
    assert manager.writes == writes
    assert pools(member)["clusterlink-10-2-0-0-16"]["metadata"]["resourceVersion"] == revision


def test_only_node_configs_of_this_clusters_nodes_count(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    control.create(node_config("b-n1", ["10.1.0.0/16"], cluster="b"))
    control.create(node_config("a-stray", ["10.9.0.0/16"]))  # labelled, but no ClusterNode
    control.create(node_config("a-n1", ["10.2.0.0/16"]))
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-16"})
    eventually(lambda: manager.queued == 0)
    assert our_pools(member) == {"clusterlink-10-2-0-0-16"}


def test_with_another_cni_there_are_none_and_ours_are_removed(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    control.create(node_config("a-n1", ["10.2.0.0/16"]))
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-16"})
    control.patch("Cluster", CLUSTER, {"spec": {"clusterLinkOptions": {"cni": "flannel"}}})
    eventually(lambda: our_pools(member) == set())
    set_routes(control, "a-n1", ["10.2.0.0/16", "10.3.0.0/16"])
    eventually(lambda: manager.queued == 0)
    assert our_pools(member) == set()
    assert set(pools(member)) == {"default-ipv4-ippool", "clusterlink-handmade"}
    control.patch("Cluster", CLUSTER, {"spec": {"clusterLinkOptions": {"cni": "calico"}}})
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-15"})  # the two, merged


def test_a_cidr_overlapping_a_pool_not_ours_is_skipped_and_counted(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    control.create(node_config("a-n1", ["10.2.0.0/16", "192.168.100.128/25"]))
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-16"})
    skipped = eventually(
        lambda: manager.metrics.registry.get_sample_value(
            "clusterlink_controller_manager_calico_ippools_skipped"
        )
    )
    assert skipped == 1.0
    assert pools(member)["clusterlink-handmade"]["spec"]["cidr"] == "192.168.100.0/24"


def test_the_pools_leave_with_the_cluster(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    control.create(node_config("a-n1", ["10.2.0.0/16"]))
    eventually(lambda: our_pools(member) == {"clusterlink-10-2-0-0-16"})
    control.delete("Cluster", CLUSTER)
    eventually(lambda: our_pools(member) == set())
