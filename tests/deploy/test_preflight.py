"""The join preflight as pure checks: CIDR overlaps seen through global maps, suggestions
that are really free, NIC names, and the Cluster object's own validity."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from clusterlink.deploy.joining import JoinOptions, cluster_document, parse_cidr_map
from clusterlink.deploy.preflight import MemberView, check_join, free_block


def joined(
    name: str, pods: list[str], services: list[str], mapping: dict[str, str] | None = None
) -> dict[str, Any]:
    options: dict[str, Any] = {"networkType": "gateway", "ipFamily": "ipv4"}
    if mapping:
        options["globalCIDRsMap"] = mapping
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"clusterLinkOptions": options},
        "status": {"clusterLinkStatus": {"podCIDRs": pods, "serviceCIDRs": services}},
    }


def new_cluster(**flags: Any) -> dict[str, Any]:
    return cluster_document(JoinOptions(name="cluster-b", **flags))


NODES = MemberView(nodes=({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.233.0.0/18"]}},))


def messages(report: Any, severity: str = "error") -> list[str]:
    return [f.message for f in report.findings if f.severity == severity]


def test_a_service_cidr_overlap_is_an_error_too() -> None:
    report = check_join(
        new_cluster(service_cidrs=("10.96.0.0/12",)),
        NODES,
        [joined("cluster-a", ["10.244.0.0/16"], ["10.96.0.0/12"])],
    )

    assert messages(report) == [
        "service CIDR 10.96.0.0/12 of cluster-b overlaps service CIDR 10.96.0.0/12 of cluster "
        "cluster-a; give cluster-b a global CIDR for it: "
        "--global-cidrs-map 10.96.0.0/12=10.0.0.0/12"
    ]


def test_a_member_whose_conflicting_cidr_is_globally_mapped_does_not_conflict() -> None:
    report = check_join(
        new_cluster(service_cidrs=("10.112.0.0/12",)),
        NODES,
        [joined("cluster-a", ["10.233.0.0/16"], [], {"10.233.0.0/16": "10.100.0.0/16"})],
    )

    assert report.passed, messages(report)


def test_the_suggestion_avoids_every_cidr_in_use() -> None:
    report = check_join(
        new_cluster(service_cidrs=("10.96.0.0/12",)),
        NODES,
        [joined("cluster-a", ["10.0.0.0/9"], ["10.128.0.0/12"])],
    )

    (message,) = messages(report)
    assert message.endswith("--global-cidrs-map 10.96.0.0/12=10.144.0.0/12")


def test_free_block_returns_none_when_every_candidate_is_taken() -> None:
    size = ipaddress.ip_network("10.0.0.0/8")
    taken = [ipaddress.ip_network(n) for n in ("10.0.0.0/8",)]

    assert free_block(size, taken) is None


def test_unknown_cidrs_are_warnings_not_errors() -> None:
    report = check_join(new_cluster(), MemberView(), [joined("cluster-a", [], [])])

    assert report.passed
    warnings = " ".join(messages(report, "warning"))
    assert "pod CIDRs of cluster-b are unknown" in warnings
    assert "cluster cluster-a has reported no pod or service CIDRs" in warnings
    assert "cluster-b has no Node" in warnings


def test_a_global_map_of_different_sizes_is_refused_as_the_network_manager_would() -> None:
    report = check_join(new_cluster(global_cidrs_map={"10.233.0.0/18": "10.1.0.0/16"}), NODES, [])

    assert any("differ in size" in m for m in messages(report))


def test_an_automatic_nic_is_a_note() -> None:
    report = check_join(new_cluster(), NODES, [])

    assert any("--default-nic" in m for m in messages(report, "note"))


def test_the_cidr_map_flag_syntax() -> None:
    assert parse_cidr_map("10.1.0.0/16=10.9.0.0/16, fd00::/64=fd09::/64") == {
        "10.1.0.0/16": "10.9.0.0/16",
        "fd00::/64": "fd09::/64",
    }
    with pytest.raises(ValueError, match="REAL_CIDR=GLOBAL_CIDR"):
        parse_cidr_map("10.1.0.0/16")
