"""The stand-ins the lab uses when controller-manager or elector are not installed (no root)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterlink.lab.addressing import LabSpec, plan_lab
from clusterlink.lab.objects import write_cluster
from clusterlink.lab.stand_ins import assign_gateway, write_cluster_nodes, write_cluster_status
from clusterlink.lab.state import sqlite_url
from clusterlink.store import ObjectStore, open_store


@pytest.fixture
def control(tmp_path: Path) -> Iterator[ObjectStore]:
    store = open_store(sqlite_url(tmp_path / "control.db"))
    try:
        yield store
    finally:
        store.close()


def _gateways(control: ObjectStore) -> list[str]:
    return [
        item["spec"]["nodeName"]
        for item in control.list("ClusterNode").items
        if "gateway" in item["spec"]["roles"]
    ]


def test_the_controller_manager_stand_in_writes_cluster_nodes_and_cidrs(
    control: ObjectStore,
) -> None:
    cluster = plan_lab(LabSpec(mode="gateway", ip_family="ipv4")).clusters[0]
    write_cluster(control, cluster, "ipv4", "demo")

    write_cluster_nodes(control, cluster)
    write_cluster_status(control, cluster)

    node = control.get("ClusterNode", "cluster1-node2")["spec"]
    assert (node["ip"], node["podCIDRs"]) == ("192.168.1.12", ["10.1.2.0/24"])
    status = control.get("Cluster", "cluster1")["status"]["clusterLinkStatus"]
    assert status["podCIDRs"] == ["10.1.0.0/16"]


def test_the_elector_stand_in_keeps_a_live_gateway_and_replaces_a_dead_one(
    control: ObjectStore,
) -> None:
    cluster = plan_lab(LabSpec(mode="gateway", nodes=3)).clusters[0]
    write_cluster_nodes(control, cluster)

    assign_gateway(control, cluster, ["node2", "node3"])
    assert _gateways(control) == ["node2"]
    assign_gateway(control, cluster, ["node1", "node2", "node3"])
    assert _gateways(control) == ["node2"]
    assign_gateway(control, cluster, ["node1", "node3"])
    assert _gateways(control) == ["node1"]
