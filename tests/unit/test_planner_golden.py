"""The planner reproduces upstream's worked examples (reference §3.9 and appendix A).

Lists are compared as sets: their order is ours to choose (deterministic), upstream's is a
sort of the JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clusterlink.planner import FederationPlan, plan_federation
from tests.unit.federations import example_clusters, example_nodes, pinned_macs

GOLDEN = Path(__file__).parent / "golden"
LISTS = ("devices", "routes", "iptables", "fdbs", "arps")


def as_sets(spec: dict[str, Any]) -> dict[str, set[str]]:
    return {key: {json.dumps(item, sort_keys=True) for item in spec.get(key, [])} for key in LISTS}


def routes_of(plan: FederationPlan, node: str) -> set[tuple[str, str, str]]:
    return {(r.cidr, r.gw, r.dev) for r in plan.nodes[node].routes()}


def rules_of(plan: FederationPlan, node: str) -> set[tuple[str, str]]:
    return {(r.chain, r.rule) for r in plan.nodes[node].iptables}


@pytest.mark.parametrize(
    ("golden", "type_a", "type_b"),
    [("p2p", "p2p", "p2p"), ("gateway", "gateway", "gateway"), ("mixed", "gateway", "p2p")],
)
def test_upstream_golden_outputs_are_reproduced(golden: str, type_a: str, type_b: str) -> None:
    expected = json.loads((GOLDEN / f"{golden}.json").read_text())
    plan = plan_federation(example_clusters(type_a, type_b), example_nodes(), pinned_macs())
    assert set(plan.nodes) == set(expected)
    for node, spec in expected.items():
        assert as_sets(plan.nodes[node].to_spec_document()) == as_sets(spec), node
    assert plan.all_problems() == []


def test_plans_are_deterministic_lists() -> None:
    first = plan_federation(example_clusters("gateway", "p2p"), example_nodes(), pinned_macs())
    second = plan_federation(example_clusters("gateway", "p2p"), example_nodes(), pinned_macs())
    for node in first.nodes:
        assert first.nodes[node].to_spec_document() == second.nodes[node].to_spec_document()


def test_global_cidr_map_routes_the_mapped_range_and_suppresses_the_overlap() -> None:
    """Example §3.9.4: both clusters use 10.233.0.0/16, B maps it to 10.100.0.0/16."""
    clusters = example_clusters(
        "gateway", "gateway", b_pods="10.233.0.0/16", b_map={"10.233.0.0/16": "10.100.0.0/16"}
    )
    plan = plan_federation(clusters, example_nodes(), pinned_macs())
    assert routes_of(plan, "cluster-a-node1") == {
        ("10.97.0.0/16", "220.168.2.21", "vx-bridge"),
        ("10.100.0.0/16", "220.168.2.21", "vx-bridge"),
    }
    assert routes_of(plan, "cluster-a-node2") == {
        ("10.97.0.0/16", "210.168.1.11", "vx-local"),
        ("10.100.0.0/16", "210.168.1.11", "vx-local"),
    }
    assert routes_of(plan, "cluster-b-node1") == {("10.96.0.0/16", "220.168.1.11", "vx-bridge")}
    assert routes_of(plan, "cluster-b-node2") == {("10.96.0.0/16", "210.168.2.21", "vx-local")}
    # Upstream SNATs the source to the single address 10.100.0.0; we map it 1:1 (NETMAP).
    assert rules_of(plan, "cluster-b-node1") == {
        ("PREROUTING", "-d 10.100.0.0/16 -i vx-bridge -j NETMAP --to 10.233.0.0/16"),
        ("POSTROUTING", "-s 220.0.0.0/8 -j MASQUERADE"),
        ("POSTROUTING", "-s 210.0.0.0/8 -o vx-bridge -j MASQUERADE"),
        ("POSTROUTING", "-s 10.233.0.0/16 -o vx-bridge -j NETMAP --to 10.100.0.0/16"),
    }


def test_a_suppressed_overlapping_route_is_reported_on_the_cluster_that_should_map_it() -> None:
    """Upstream drops the route silently; we say which CIDR, toward whom, and the fix."""
    clusters = example_clusters("gateway", "gateway", b_pods="10.233.0.0/16")
    plan = plan_federation(clusters, example_nodes(), pinned_macs())
    assert routes_of(plan, "cluster-a-node1") == {("10.97.0.0/16", "220.168.2.21", "vx-bridge")}
    messages = {(str(p.ref), p.field, p.severity): p.message for p in plan.all_problems()}
    key = ("Cluster/cluster-a", "spec.clusterLinkOptions.globalCIDRsMap", "warning")
    assert "10.233.0.0/16 is not routed to cluster(s) cluster-b" in messages[key]
    assert ("Cluster/cluster-b", "spec.clusterLinkOptions.globalCIDRsMap", "warning") in messages


def test_dual_stack_example_gets_ipv6_devices_routes_and_rules() -> None:
    """Example §3.9.5 (both gateway, ``ipFamily: all``)."""
    plan = plan_federation(
        example_clusters("gateway", "gateway", ip_family="all"),
        example_nodes(with_ip6=True),
        pinned_macs(),
    )
    gateway = plan.nodes["cluster-a-node1"]
    assert {(d.name, d.addr) for d in gateway.devices} == {
        ("vx-local", "210.168.1.11/8"),
        ("vx-local-6", "9480:1::11/16"),
        ("vx-bridge", "220.168.1.11/8"),
        ("vx-bridge-6", "9470:1::11/16"),
    }
    assert ("fd10:234::/64", "9470:2::21", "vx-bridge-6") in routes_of(plan, "cluster-a-node1")
    assert ("fd10:234::/64", "9480:1::11", "vx-local-6") in routes_of(plan, "cluster-a-node2")
    assert {r for _, r in rules_of(plan, "cluster-a-node1")} >= {
        "-s 9480::/16 -o vx-bridge-6 -j MASQUERADE",
        "-s 9470::/16 -j MASQUERADE",
    }
    assert ("fd00:2::21", "aa:00:00:00:b1:b6", "vx-bridge-6") in {
        (f.ip, f.mac, f.dev) for f in gateway.fdbs()
    }
    assert ("9470:2::21", "aa:00:00:00:b1:b6", "vx-bridge-6") in {
        (a.ip, a.mac, a.dev) for a in gateway.arps()
    }
