"""Where pod and service CIDRs come from: sources, precedence, canonical form, bad data."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from clusterlink.controllers.cidr_discovery import (
    apiserver_service_cidrs,
    calico_pod_cidrs,
    canonical_cidrs,
    discover_pod_cidrs,
    discover_service_cidrs,
    flannel_pod_cidrs,
    node_pod_cidrs,
    service_range_flag,
)


def cluster(**options: Any) -> dict[str, Any]:
    return {"metadata": {"name": "a"}, "spec": {"clusterLinkOptions": options}}


def ippool(name: str, cidr: str, *, disabled: bool = False) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"cidr": cidr, "disabled": disabled}}


def flannel(conf: str, namespace: str = "kube-flannel") -> dict[str, Any]:
    return {
        "metadata": {"name": "kube-flannel-cfg", "namespace": namespace},
        "data": {"net-conf.json": conf},
    }


def node(name: str, *cidrs: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"podCIDRs": list(cidrs)}}


def apiserver(name: str, command: list[str], args: list[str] | None = None) -> dict[str, Any]:
    container = {"name": "kube-apiserver", "command": command, "args": args or []}
    return {
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"containers": [container]},
    }


def test_cidrs_are_canonicalized_and_deduplicated() -> None:
    assert canonical_cidrs(["10.96.0.1/12", " 10.96.0.0/12", "fd00:0::1/108"], "x") == (
        "10.96.0.0/12",
        "fd00::/108",
    )


def test_a_bad_cidr_is_named_with_its_position() -> None:
    with pytest.raises(ValueError, match=r"where\[1\]: 'ten' is not a CIDR"):
        canonical_cidrs(["10.0.0.0/8", "ten"], "where")


def test_calico_uses_enabled_pools_only_and_never_our_own() -> None:
    pools = [
        ippool("default-ipv4-ippool", "10.244.0.1/16"),
        ippool("migrating-away", "10.99.0.0/16", disabled=True),
        ippool("clusterlink-b-pod-10-2-0-0-16", "10.2.0.0/16"),
        ippool("default-ipv6-ippool", "fd00:244::/64"),
    ]
    finding = calico_pod_cidrs(pools)
    assert finding is not None
    assert finding.outcome == "found"
    assert finding.cidrs == ("10.244.0.0/16", "fd00:244::/64")
    assert "default-ipv4-ippool" in finding.detail
    assert "migrating-away" not in finding.detail


def test_only_disabled_calico_pools_count_as_no_calico() -> None:
    assert calico_pod_cidrs([ippool("old", "10.9.0.0/16", disabled=True)]) is None


def test_flannel_reads_both_families_when_enabled() -> None:
    conf = {"Network": "10.244.0.0/16", "EnableIPv6": True, "IPv6Network": "fd00:10::/56"}
    finding = flannel_pod_cidrs([flannel(json.dumps(conf))])
    assert finding is not None
    assert finding.cidrs == ("10.244.0.0/16", "fd00:10::/56")


def test_flannel_ignores_an_ipv6_network_it_does_not_enable() -> None:
    conf = {"Network": "10.244.0.0/16", "IPv6Network": "fd00:10::/56"}
    finding = flannel_pod_cidrs([flannel(json.dumps(conf))])
    assert finding is not None
    assert finding.cidrs == ("10.244.0.0/16",)


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["10.244.0.0/16"]', "must be a JSON object"),
        ('{"Backend": {"Type": "vxlan"}}', "neither Network nor an enabled IPv6Network"),
        ('{"Network": "10.244.0.0/33"}', r"\.Network: '10.244.0.0/33' is not a CIDR"),
    ],
)
def test_a_malformed_flannel_conf_is_invalid_and_named(conf: str, message: str) -> None:
    finding = flannel_pod_cidrs([flannel(conf)])
    assert finding is not None
    assert finding.outcome == "invalid"
    assert 'ConfigMap "kube-flannel/kube-flannel-cfg" data["net-conf.json"]' in finding.detail
    assert re.search(message, finding.detail)


def test_node_cidrs_are_merged_into_the_smallest_cover() -> None:
    nodes = [node("n1", "10.1.0.0/24", "fd00::/64"), node("n2", "10.1.1.0/24"), node("n3")]
    finding = node_pod_cidrs(nodes)
    assert finding is not None
    assert finding.cidrs == ("10.1.0.0/23", "fd00::/64")
    assert "2 Node(s)" in finding.detail


def test_pod_cidr_precedence_is_override_calico_flannel_nodes() -> None:
    pools = [ippool("default", "10.10.0.0/16")]
    configmaps = [flannel('{"Network": "10.20.0.0/16"}')]
    nodes = [node("n1", "10.30.0.0/24")]
    override = cluster(podCIDRs=["10.40.0.0/16"])
    assert discover_pod_cidrs(override, pools, configmaps, nodes).cidrs == ("10.40.0.0/16",)
    assert discover_pod_cidrs(cluster(), pools, configmaps, nodes).cidrs == ("10.10.0.0/16",)
    assert discover_pod_cidrs(cluster(), [], configmaps, nodes).cidrs == ("10.20.0.0/16",)
    assert discover_pod_cidrs(cluster(), [], [], nodes).cidrs == ("10.30.0.0/24",)
    missing = discover_pod_cidrs(cluster(), [], [], [])
    assert missing.outcome == "missing"
    assert "spec.clusterLinkOptions.podCIDRs" in missing.detail


def test_an_empty_override_means_discover() -> None:
    finding = discover_pod_cidrs(cluster(podCIDRs=[]), [], [], [node("n1", "10.3.0.0/24")])
    assert finding.cidrs == ("10.3.0.0/24",)


def test_a_bad_override_is_invalid_and_names_the_field() -> None:
    finding = discover_service_cidrs(cluster(serviceCIDRs=["10.96.0.0/12", "x"]), [])
    assert finding.outcome == "invalid"
    assert 'Cluster "a" spec.clusterLinkOptions.serviceCIDRs[1]' in finding.detail


@pytest.mark.parametrize(
    "arguments",
    [
        ["--service-cluster-ip-range=10.96.0.0/12"],
        ["--service-cluster-ip-range", "10.96.0.0/12"],
    ],
)
def test_the_service_range_flag_takes_either_form(arguments: list[str]) -> None:
    assert service_range_flag(["kube-apiserver", "--secure-port=6443", *arguments]) == (
        "10.96.0.0/12"
    )


def test_service_cidrs_come_from_the_apiserver_args_too_and_are_canonical() -> None:
    pods = [
        apiserver("coredns-1", ["/coredns"]),
        apiserver(
            "kube-apiserver-master",
            ["kube-apiserver"],
            ["--service-cluster-ip-range=10.96.0.10/12,fd00:96::/108"],
        ),
    ]
    finding = apiserver_service_cidrs(pods)
    assert finding is not None
    assert finding.cidrs == ("10.96.0.0/12", "fd00:96::/108")
    assert 'Pod "kube-system/kube-apiserver-master"' in finding.detail


def test_the_service_override_wins_over_the_apiserver_flag() -> None:
    pods = [
        apiserver("kube-apiserver-m", ["kube-apiserver", "--service-cluster-ip-range=10.96.0.0/12"])
    ]
    finding = discover_service_cidrs(cluster(serviceCIDRs=["10.100.0.0/16"]), pods)
    assert finding.cidrs == ("10.100.0.0/16",)
    assert finding.detail == "spec.clusterLinkOptions.serviceCIDRs"


def test_no_visible_apiserver_says_how_to_set_the_override() -> None:
    finding = discover_service_cidrs(cluster(), [apiserver("kube-apiserver-m", ["kube-apiserver"])])
    assert finding.outcome == "missing"
    assert "set spec.clusterLinkOptions.serviceCIDRs" in finding.detail
