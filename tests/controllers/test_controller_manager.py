"""The controller-manager publishes a member's Nodes and CIDRs into the control store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.controllers.controller_manager import ControllerManager
from clusterlink.store import NotFoundError, ObjectStore
from tests.controllers.support import eventually, sqlite_store

CLUSTER = "a"


def node_document(
    name: str,
    pod_cidrs: list[str],
    addresses: list[str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"podCIDRs": pod_cidrs},
        "status": {"addresses": [{"type": "InternalIP", "address": a} for a in addresses or []]},
    }


def apiserver_pod(flag: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "kube-apiserver-master",
            "namespace": "kube-system",
            "labels": {"component": "kube-apiserver"},
        },
        "spec": {"containers": [{"name": "kube-apiserver", "command": ["kube-apiserver", flag]}]},
    }


def flannel_configmap(conf: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-flannel-cfg", "namespace": "kube-flannel"},
        "data": {"net-conf.json": conf},
    }


def ippool(name: str, cidr: str, *, disabled: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {"cidr": cidr, "disabled": disabled},
    }


def cluster_document(name: str, **options: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"clusterLinkOptions": {"networkType": "gateway", **options}},
    }


def replace(store: ObjectStore, document: dict[str, Any]) -> None:
    """Create an object or overwrite its spec and data (a Node's status stays as stored)."""
    metadata = document["metadata"]
    try:
        current = store.get(document["kind"], metadata["name"], metadata.get("namespace", ""))
    except NotFoundError:
        store.create(document)
        return
    store.update({**document, "metadata": {**current["metadata"], **metadata}})


@pytest.fixture
def control(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path, "control")
    opened.create(cluster_document(CLUSTER))
    yield opened
    opened.close()


@pytest.fixture
def member(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path, "member-a")
    opened.create(node_document("n1", ["10.1.1.0/24"], ["192.168.1.1", "fd00::1"]))
    opened.create(node_document("n2", ["10.1.2.0/24"], ["192.168.1.2"]))
    yield opened
    opened.close()


@pytest.fixture
def manager(control: ObjectStore, member: ObjectStore) -> Iterator[ControllerManager]:
    running = ControllerManager(control, member, CLUSTER)
    running.start()
    yield running
    running.stop()


def cluster_nodes(store: ObjectStore) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in store.list("ClusterNode").items}


def link_status(store: ObjectStore) -> dict[str, Any]:
    return dict((store.get("Cluster", CLUSTER).get("status") or {}).get("clusterLinkStatus") or {})


def cidrs_condition(store: ObjectStore) -> dict[str, Any] | None:
    conditions = (store.get("Cluster", CLUSTER).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "CIDRsDiscovered"), None)


def reconciles(manager: ControllerManager, kind: str) -> float:
    value = manager.metrics.registry.get_sample_value(
        "clusterlink_controller_manager_reconciles_total", {"kind": kind, "result": "ok"}
    )
    return value or 0.0


# --- Node -> ClusterNode -------------------------------------------------------------------


def test_every_node_becomes_a_labelled_cluster_node(
    control: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: len(cluster_nodes(control)) == 2)
    nodes = cluster_nodes(control)
    first = nodes["a-n1"]
    assert first["metadata"]["labels"] == {"kosmos.io/cluster": "a"}
    assert first["spec"]["clusterName"] == "a"
    assert first["spec"]["nodeName"] == "n1"
    assert first["spec"]["podCIDRs"] == ["10.1.1.0/24"]
    assert (first["spec"]["ip"], first["spec"]["ip6"]) == ("192.168.1.1", "fd00::1")
    assert nodes["a-n2"]["spec"]["ip"] == "192.168.1.2"


def test_a_changed_pod_cidr_follows_the_node(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: "a-n2" in cluster_nodes(control))
    replace(member, node_document("n2", ["10.1.20.0/24"]))
    eventually(lambda: cluster_nodes(control)["a-n2"]["spec"]["podCIDRs"] == ["10.1.20.0/24"])


def test_values_other_writers_own_are_never_overwritten(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: "a-n1" in cluster_nodes(control))
    control.patch(
        "ClusterNode",
        "a-n1",
        {"spec": {"ip": "10.9.9.9", "interfaceName": "eth1", "roles": ["gateway", "edge"]}},
    )
    replace(member, node_document("n1", ["10.1.3.0/24"]))
    spec = eventually(
        lambda: (s := cluster_nodes(control)["a-n1"]["spec"])["podCIDRs"] == ["10.1.3.0/24"] and s
    )
    assert spec["ip"] == "10.9.9.9"
    assert spec["interfaceName"] == "eth1"
    assert spec["roles"] == ["gateway", "edge"]


def test_an_excluded_node_gets_no_cluster_node_and_loses_the_one_it_had(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: "a-n2" in cluster_nodes(control))
    replace(member, node_document("n2", ["10.1.2.0/24"], labels={"kosmos.io/exclude": "true"}))
    member.create(node_document("n3", ["10.1.3.0/24"], labels={"kosmos.io/exclude": "true"}))
    member.create(node_document("n4", ["10.1.4.0/24"]))
    eventually(lambda: set(cluster_nodes(control)) == {"a-n1", "a-n4"})


def test_a_removed_node_loses_its_cluster_node(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: len(cluster_nodes(control)) == 2)
    member.delete("Node", "n1")
    eventually(lambda: set(cluster_nodes(control)) == {"a-n2"})


def test_only_cluster_nodes_labelled_with_this_cluster_are_ever_removed(
    control: ObjectStore, member: ObjectStore, tmp_path: Path
) -> None:
    foreign = {"apiVersion": "kosmos.io/v1alpha1", "kind": "ClusterNode"}
    control.create(
        {
            **foreign,
            "metadata": {"name": "b-n1", "labels": {"kosmos.io/cluster": "b"}},
            "spec": {"clusterName": "b", "nodeName": "n1"},
        }
    )
    control.create({**foreign, "metadata": {"name": "a-handmade"}, "spec": {"clusterName": "a"}})
    control.create(
        {
            **foreign,
            "metadata": {"name": "a-gone", "labels": {"kosmos.io/cluster": "a"}},
            "spec": {"clusterName": "a", "nodeName": "gone"},
        }
    )
    running = ControllerManager(control, member, CLUSTER)
    running.start()
    try:
        eventually(lambda: set(cluster_nodes(control)) == {"a-n1", "a-n2", "b-n1", "a-handmade"})
    finally:
        running.stop()
    assert cluster_nodes(control)["b-n1"]["spec"] == {"clusterName": "b", "nodeName": "n1"}


def test_a_name_owned_by_another_cluster_is_left_alone(
    control: ObjectStore, member: ObjectStore
) -> None:
    # Node "x" of cluster "a-b" and node "b-x" of cluster "a" share the name "a-b-x".
    control.create(
        {
            "apiVersion": "kosmos.io/v1alpha1",
            "kind": "ClusterNode",
            "metadata": {"name": "a-b-x", "labels": {"kosmos.io/cluster": "a-b"}},
            "spec": {"clusterName": "a-b", "nodeName": "x", "podCIDRs": ["10.7.0.0/24"]},
        }
    )
    member.create(node_document("b-x", ["10.1.9.0/24"]))
    running = ControllerManager(control, member, CLUSTER)
    running.start()
    try:
        eventually(lambda: {"a-n1", "a-n2"} <= set(cluster_nodes(control)))
        eventually(
            lambda: running.metrics.registry.get_sample_value(
                "clusterlink_controller_manager_conflicting_names_total"
            )
        )
    finally:
        running.stop()
    assert cluster_nodes(control)["a-b-x"]["spec"]["clusterName"] == "a-b"


def test_cluster_nodes_exist_only_while_the_cluster_does(
    control: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: len(cluster_nodes(control)) == 2)
    control.delete("Cluster", CLUSTER)
    eventually(lambda: not cluster_nodes(control))
    control.create(cluster_document(CLUSTER))
    eventually(lambda: len(cluster_nodes(control)) == 2)


# --- CIDRs -> Cluster.status ---------------------------------------------------------------


def test_without_a_cni_source_the_node_cidrs_and_apiserver_flag_are_reported(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    member.create(apiserver_pod("--service-cluster-ip-range=10.96.0.1/12"))
    eventually(lambda: link_status(control).get("serviceCIDRs") == ["10.96.0.0/12"])
    assert link_status(control)["podCIDRs"] == ["10.1.1.0/24", "10.1.2.0/24"]
    condition = cidrs_condition(control)
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("True", "Discovered")
    assert "kube-apiserver" in condition["message"]


def test_calico_beats_flannel_beats_nodes_and_the_override_beats_all(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: link_status(control).get("podCIDRs") == ["10.1.1.0/24", "10.1.2.0/24"])
    member.create(flannel_configmap('{"Network": "10.244.0.0/16"}'))
    eventually(lambda: link_status(control)["podCIDRs"] == ["10.244.0.0/16"])
    member.create(ippool("default-ipv4-ippool", "10.233.64.0/18"))
    member.create(ippool("retired", "10.99.0.0/16", disabled=True))
    eventually(lambda: link_status(control)["podCIDRs"] == ["10.233.64.0/18"])
    control.patch(
        "Cluster", CLUSTER, {"spec": {"clusterLinkOptions": {"podCIDRs": ["10.5.0.7/16"]}}}
    )
    eventually(lambda: link_status(control)["podCIDRs"] == ["10.5.0.0/16"])
    condition = cidrs_condition(control)
    assert condition is not None
    assert "podCIDRs 10.5.0.0/16 from spec.clusterLinkOptions.podCIDRs" in condition["message"]


def test_missing_service_cidrs_say_how_to_set_the_override(
    control: ObjectStore, manager: ControllerManager
) -> None:
    condition = eventually(lambda: cidrs_condition(control))
    assert (condition["status"], condition["reason"]) == ("False", "NotFound")
    assert "set spec.clusterLinkOptions.serviceCIDRs" in condition["message"]
    assert link_status(control)["serviceCIDRs"] == []
    control.patch(
        "Cluster", CLUSTER, {"spec": {"clusterLinkOptions": {"serviceCIDRs": ["10.100.0.0/16"]}}}
    )
    eventually(lambda: link_status(control)["serviceCIDRs"] == ["10.100.0.0/16"])
    eventually(lambda: (c := cidrs_condition(control)) and c["status"] == "True")


def test_a_malformed_flannel_conf_is_reported_and_the_last_good_value_kept(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    member.create(flannel_configmap(json.dumps({"Network": "10.244.0.0/16"})))
    eventually(lambda: link_status(control).get("podCIDRs") == ["10.244.0.0/16"])
    replace(member, flannel_configmap('{"Network": "10.244.0.0/16",'))
    condition = eventually(
        lambda: (c := cidrs_condition(control)) and c["reason"] == "InvalidSource" and c
    )
    assert condition["status"] == "False"
    assert 'ConfigMap "kube-flannel/kube-flannel-cfg" data["net-conf.json"]' in condition["message"]
    assert "not valid JSON" in condition["message"]
    assert "keeping 10.244.0.0/16" in condition["message"]
    assert link_status(control)["podCIDRs"] == ["10.244.0.0/16"]


def test_an_unchanged_status_is_not_rewritten(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    member.create(apiserver_pod("--service-cluster-ip-range=10.96.0.0/12"))
    eventually(lambda: (c := cidrs_condition(control)) and c["status"] == "True")
    eventually(lambda: manager.queued == 0)
    revision = control.get("Cluster", CLUSTER)["metadata"]["resourceVersion"]
    writes = manager.writes
    before = reconciles(manager, "Cluster")
    heartbeat = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    member.patch_status("Node", "n1", heartbeat)
    eventually(lambda: reconciles(manager, "Cluster") > before)
    eventually(lambda: manager.queued == 0)
    assert manager.writes == writes
    assert control.get("Cluster", CLUSTER)["metadata"]["resourceVersion"] == revision


def test_other_conditions_on_the_cluster_are_kept(
    control: ObjectStore, member: ObjectStore, manager: ControllerManager
) -> None:
    eventually(lambda: cidrs_condition(control))
    valid = {"type": "Valid", "status": "True", "reason": "NoProblems", "message": ""}
    conditions = control.get("Cluster", CLUSTER)["status"]["conditions"]
    control.patch_status("Cluster", CLUSTER, {"status": {"conditions": [valid, *conditions]}})
    member.create(apiserver_pod("--service-cluster-ip-range=10.96.0.0/12"))
    eventually(lambda: (c := cidrs_condition(control)) and c["status"] == "True")
    types = [c["type"] for c in control.get("Cluster", CLUSTER)["status"]["conditions"]]
    assert types == ["Valid", "CIDRsDiscovered"]
