"""Reading and validating objects: every error names the object and the field."""

from __future__ import annotations

import json

import pytest

from clusterlink.api.errors import InvalidDocumentError, InvalidObjectError, ObjectRef, Problem
from clusterlink.api.models import Cluster, NodeConfigSpec
from clusterlink.api.serialization import dump_documents, load_documents, parse_object, to_document
from clusterlink.api.validation import check_cluster, check_cluster_node, check_node_config_spec
from tests.unit.federations import cluster, cluster_node

UPSTREAM_CLUSTER = """
apiVersion: kosmos.io/v1alpha1
kind: Cluster
metadata:
  name: cluster38
  annotations: {kosmos.io/cluster-role: root}
  resourceVersion: "4711"
spec:
  kubeconfig: YXBpVmVyc2lvbjogdjEK
  namespace: kosmos-system
  imageRepository: ghcr.io/kosmos-io
  clusterLinkOptions:
    enable: true
    cni: calico
    networkType: gateway
    ipFamily: all
    useIPPool: false
    localCIDRs: {ip: 210.0.0.0/8, ip6: 9480::/16}
    bridgeCIDRs: {ip: 220.0.0.0/8, ip6: 9470::/16}
    nicNodeNames: [{interfaceName: eth1, nodeName: [node3]}]
    defaultNICName: "*"
    globalCIDRsMap: {10.233.0.0/16: 10.100.0.0/16}
    autodetectionMethod: can-reach=10.0.0.1
  clusterTreeOptions: {enable: false}
status:
  clusterLinkStatus: {podCIDRs: [10.233.0.0/16], serviceCIDRs: [10.96.0.0/16]}
"""


def problem_fields(problems: list[Problem]) -> set[str]:
    return {p.field for p in problems}


def test_an_upstream_object_round_trips_unchanged() -> None:
    (obj,) = load_documents(UPSTREAM_CLUSTER)
    assert isinstance(obj, Cluster)
    again = load_documents(dump_documents([obj]))[0]
    assert to_document(again) == to_document(obj)
    assert json.loads(json.dumps(to_document(obj)))["spec"]["clusterLinkOptions"][
        "globalCIDRsMap"
    ] == {"10.233.0.0/16": "10.100.0.0/16"}


def test_shape_errors_name_every_bad_field_of_the_object() -> None:
    with pytest.raises(InvalidObjectError) as caught:
        parse_object(
            {
                "kind": "Cluster",
                "metadata": {"name": "x"},
                "spec": {
                    "clusterLinkOptions": {
                        "networkType": "mesh",
                        "ipFamily": "",
                        "globalCidrsMap": {},
                    }
                },
            }
        )
    fields = {e.field for e in caught.value.errors}
    assert fields == {
        "spec.clusterLinkOptions.networkType",
        "spec.clusterLinkOptions.ipFamily",
        "spec.clusterLinkOptions.globalCidrsMap",
    }
    assert str(caught.value).startswith("Cluster/x: ")


def test_unreadable_documents_are_all_reported_together() -> None:
    text = "kind: Cluster\nmetadata: {name: a}\nspec: {bogus: 1}\n---\nkind: Widget\n---\n- 1\n"
    with pytest.raises(InvalidDocumentError) as caught:
        load_documents(text)
    message = str(caught.value)
    assert "Cluster/a: spec.bogus" in message
    assert "Widget/document 2: kind: unknown kind" in message
    assert "object/document 3" in message
    with pytest.raises(InvalidDocumentError, match="not valid YAML"):
        load_documents("a: [")


def test_cluster_checks_name_each_bad_field_and_keep_the_good_entries() -> None:
    checked = check_cluster(
        cluster(
            "a",
            "gateway",
            ["10.1.0.0/16", "10.1.0.0/16", "10.1.2.0/24", "fd00::/64", "nonsense"],
            ["10.96.0.0/12"],
            ip_family="ipv4",
            global_map={"10.1.0.0/16": "10.200.0.0/24", "10.96.0.0/12": "fd00::/12", "x": "y"},
        )
    )
    assert checked.usable
    assert [text for text, _ in checked.pod_cidrs] == ["10.1.0.0/16"]  # v6 filtered by family
    assert {p.field: p.severity for p in checked.problems} == {
        "status.clusterLinkStatus.podCIDRs[1]": "warning",  # duplicate
        "status.clusterLinkStatus.podCIDRs[2]": "error",  # overlaps [0]
        "status.clusterLinkStatus.podCIDRs[4]": "error",  # not a CIDR
        "spec.clusterLinkOptions.globalCIDRsMap[10.1.0.0/16]": "error",  # sizes differ
        "spec.clusterLinkOptions.globalCIDRsMap[10.96.0.0/12]": "error",  # family differs
        "spec.clusterLinkOptions.globalCIDRsMap[x]": "error",
    }
    assert checked.global_map == {}


@pytest.mark.parametrize(
    ("bridge", "field"),
    [
        ({"ip": "220.0.0.0/33", "ip6": "fd19::/48"}, "spec.clusterLinkOptions.bridgeCIDRs.ip"),
        ({"ip": "fd19::/48", "ip6": "fd19::/48"}, "spec.clusterLinkOptions.bridgeCIDRs.ip"),
        ({"ip": "198.19.0.0/31", "ip6": "fd19::/48"}, "spec.clusterLinkOptions.bridgeCIDRs.ip"),
        ({"ip": "198.19.0.0/16", "ip6": "10.0.0.0/8"}, "spec.clusterLinkOptions.bridgeCIDRs.ip6"),
    ],
)
def test_unusable_tunnel_space_makes_the_cluster_unusable(
    bridge: dict[str, str], field: str
) -> None:
    checked = check_cluster(cluster("a", "p2p", [], [], ip_family="all", bridge=bridge))
    assert not checked.usable
    assert field in problem_fields(list(checked.problems))


def test_overlapping_local_and_bridge_spaces_are_rejected() -> None:
    same = {"ip": "198.19.0.0/16", "ip6": "fd19::/48"}
    checked = check_cluster(cluster("a", "gateway", [], [], local=same, bridge=same))
    assert not checked.usable
    assert "spec.clusterLinkOptions.localCIDRs.ip" in problem_fields(list(checked.problems))


def test_node_checks() -> None:
    v4 = check_cluster(cluster("a", "p2p", [], [], ip_family="ipv4"))
    wrong_family = check_cluster_node(cluster_node("a-n", "a", "fd00::1"), v4)
    assert wrong_family.held
    assert problem_fields(list(wrong_family.problems)) == {"spec.ip"}
    no_cluster = check_cluster_node(cluster_node("a-n", "", "10.0.0.1"), v4)
    assert no_cluster.held
    assert problem_fields(list(no_cluster.problems)) == {"spec.clusterName"}
    missing = check_cluster_node(cluster_node("a-n", "gone", "10.0.0.1"), None)
    assert not missing.usable
    assert not missing.held
    assert [p.severity for p in missing.problems] == ["warning"]


def test_node_config_specs_are_checked_before_anything_is_applied() -> None:
    spec = NodeConfigSpec.model_validate(
        {
            "devices": [
                {
                    "name": "vx-bridge",
                    "addr": "fd00::1/64",
                    "mac": "00:00:00:00:00:00",
                    "bindDev": "eth0; rm -rf /",
                    "id": 54,
                    "port": 4876,
                },
                {
                    "name": "eth0",
                    "addr": "10.0.0.1/8",
                    "mac": "aa:bb:cc:dd:ee:ff",
                    "bindDev": "eth0",
                    "id": 1,
                    "port": 1,
                },
            ],
            "routes": [
                {"cidr": "10.1.0.0/16", "gw": "fd00::1", "dev": "vx-bridge"},
                {"cidr": "bad", "gw": "10.0.0.1", "dev": "vx-nope"},
            ],
            "fdbs": [{"ip": "192.168.1.1", "mac": "zz", "dev": "vx-bridge"}],
            "arps": [{"ip": "10.0.0.1", "mac": "aa:bb:cc:dd:ee:ff", "dev": "vx-bridge-6"}],
            "iptables": [{"table": "filter", "chain": "INPUT", "rule": "-j ACCEPT\n-F"}],
        }
    )
    fields = problem_fields(check_node_config_spec(spec, ObjectRef("NodeConfig", "n")))
    assert fields == {
        "spec.devices[0].addr",
        "spec.devices[0].mac",
        "spec.devices[0].bindDev",
        "spec.devices[1].name",
        "spec.routes[0].gw",
        "spec.routes[1].cidr",
        "spec.routes[1].dev",
        "spec.fdbs[0].mac",
        "spec.arps[0].ip",
        "spec.iptables[0].table",
        "spec.iptables[0].chain",
        "spec.iptables[0].rule",
    }
