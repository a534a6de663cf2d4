"""The lab's plan of names and addresses (pure: runs without root)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from clusterlink.api.models import Cluster
from clusterlink.lab.addressing import LabSpec, LabSpecError, address_from, plan_lab
from clusterlink.lab.naming import LabNameError, Target, lab_prefix
from clusterlink.lab.objects import cluster_document, node_document, pod_document
from clusterlink.lab.state import load_state, new_state, save_state


def test_every_namespace_is_unique_and_carries_the_labs_prefix() -> None:
    plan = plan_lab(LabSpec(name="demo", clusters=3, nodes=3, pods_per_node=2))

    namespaces = plan.namespaces()

    assert len(set(namespaces)) == len(namespaces) == 2 + 3 * 3 * (1 + 2)
    assert all(ns.startswith(lab_prefix("demo")) for ns in namespaces)


def test_names_are_predictable() -> None:
    plan = plan_lab(LabSpec(name="demo"))

    assert [c.name for c in plan.clusters] == ["cluster1", "cluster2"]
    assert plan.namespace_of(Target.parse("cluster2/node1/pod1")) == "cl-demo-cluster2-node1-pod1"
    assert plan.namespace_of(Target.parse("cluster1/node2")) == "cl-demo-cluster1-node2"


def test_pod_and_node_addresses_are_unique_and_inside_their_cidrs() -> None:
    plan = plan_lab(LabSpec(clusters=3, nodes=2, pods_per_node=3, ip_family="all"))

    pod_ips = [ip for pod in plan.pods for ip in pod.ips]
    node_ips = [ip for node in plan.nodes for ip in node.ips]
    assert len(set(pod_ips)) == len(pod_ips)
    assert len(set(node_ips)) == len(node_ips)
    for cluster in plan.clusters:
        cluster_nets = [ipaddress.ip_network(c) for c in cluster.pod_cidrs]
        for node in cluster.nodes:
            node_nets = [ipaddress.ip_network(c) for c in node.pod_cidrs]
            assert all(
                any(n.network_address in c and n.prefixlen >= c.prefixlen for c in cluster_nets)
                for n in node_nets
            )
            for pod in node.pods:
                assert all(any(ipaddress.ip_address(ip) in n for n in node_nets) for ip in pod.ips)


def test_an_ipv4_lab_has_no_ipv6_address() -> None:
    plan = plan_lab(LabSpec(ip_family="ipv4"))

    assert all(":" not in ip for pod in plan.pods for ip in pod.ips)
    assert all(":" not in cidr for cluster in plan.clusters for cidr in cluster.pod_cidrs)


def test_mixed_labs_alternate_p2p_and_gateway_clusters() -> None:
    plan = plan_lab(LabSpec(mode="mixed", clusters=3))

    assert [c.network_type for c in plan.clusters] == ["p2p", "gateway", "p2p"]


def test_the_overlapping_cluster_reuses_cluster1s_pods_and_is_reached_at_its_global_address() -> (
    None
):
    plan = plan_lab(LabSpec(clusters=2, overlap=True, ip_family="ipv4"))
    first, second, overlapping = plan.clusters
    pod = overlapping.pods[0]

    assert overlapping.pod_cidrs == first.pod_cidrs
    assert pod.ip4 == first.pods[0].ip4
    assert address_from(second, overlapping, pod, 4) == "10.53.1.11"
    assert address_from(first, overlapping, pod, 4) is None


@pytest.mark.parametrize(
    "options",
    [{"name": "Demo"}, {"name": "a-b"}, {"clusters": 0}, {"nodes": 51}, {"mode": "mesh"}],
)
def test_invalid_lab_options_are_rejected_with_their_name(options: dict[str, object]) -> None:
    with pytest.raises((LabSpecError, LabNameError)):
        LabSpec(**options)  # type: ignore[arg-type]


def test_targets_are_cluster_node_and_optional_pod() -> None:
    assert Target.parse("cluster1/node2") == Target("cluster1", "node2")
    assert Target.parse("cluster1/node2/pod3") == Target("cluster1", "node2", "pod3")
    with pytest.raises(LabNameError):
        Target.parse("cluster1")


def test_objects_are_what_a_kubelet_and_a_user_would_write() -> None:
    plan = plan_lab(LabSpec(mode="gateway", overlap=True))
    node = plan.nodes[0]

    node_doc = node_document(node, "demo")
    pod_doc = pod_document(node.pods[0], "demo")
    cluster = Cluster.model_validate(cluster_document(plan.clusters[2], "all", "demo"))

    assert node_doc["spec"]["podCIDRs"] == ["10.1.1.0/24", "fd33:1:1::/64"]
    assert {"type": "InternalIP", "address": "192.168.1.11"} in node_doc["status"]["addresses"]
    assert pod_doc["status"]["podIPs"] == [{"ip": "10.1.1.11"}, {"ip": "fd33:1:1::b"}]
    options = cluster.spec.cluster_link_options
    assert options is not None
    assert options.network_type == "gateway"
    assert options.default_nic_name == "eth0"
    assert options.global_cidrs_map == {
        "10.1.0.0/16": "10.53.0.0/16",
        "fd33:1::/32": "fd33:35::/32",
    }


def test_the_state_file_round_trips(tmp_path: Path) -> None:
    spec = LabSpec(name="demo", clusters=3)
    state = new_state(spec, tmp_path, ("cluster1", "cluster2", "cluster3")).with_namespace("x")

    save_state(state)

    assert load_state(tmp_path, "demo") == state
    assert (
        state.control_store == f"sqlite:///{tmp_path.as_posix().lstrip('/')}/demo/stores/control.db"
    )
