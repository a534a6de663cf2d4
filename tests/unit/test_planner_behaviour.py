"""Where the planner does better than upstream, and how it treats bad input."""

from __future__ import annotations

from clusterlink.api.errors import Problem
from clusterlink.api.models import Cluster
from clusterlink.planner import Planner, plan_federation, stable_mac
from tests.unit.federations import cluster, cluster_node, example_clusters, example_nodes


def problems_of(problems: list[Problem]) -> set[tuple[str, str, str]]:
    return {(str(p.ref), p.field, p.severity) for p in problems}


def test_an_ipv4_only_node_in_a_dual_stack_cluster_is_linked_over_ipv4() -> None:
    """Upstream drops such a node entirely (no NodeConfig at all)."""
    clusters = example_clusters("p2p", "p2p", ip_family="all")
    nodes = [
        *example_nodes(with_ip6=True)[:3],
        cluster_node("cluster-b-node2", "cluster-b", "192.168.2.22", pod_cidrs=["10.234.20.0/26"]),
    ]
    plan = plan_federation(clusters, nodes, mac_source=stable_mac)
    lonely = plan.nodes["cluster-b-node2"]
    assert [d.name for d in lonely.devices] == ["vx-bridge"]
    assert {r.dev for r in lonely.routes()} == {"vx-bridge"}
    assert {f.dev for f in lonely.fdbs()} == {"vx-bridge"}
    # Its peers mesh with it over IPv4 only, and route its pods over IPv4.
    peer = plan.nodes["cluster-a-node1"]
    assert ("192.168.2.22", "vx-bridge") in {(f.ip, f.dev) for f in peer.fdbs()}
    assert all(f.ip != "" for f in peer.fdbs())
    assert ("ClusterNode/cluster-b-node2", "spec.ip6", "warning") in problems_of(
        plan.all_problems()
    )


def test_device_addresses_never_collide_and_stay_stable() -> None:
    """Upstream splices the low 24 bits: 10.1.2.3 and 192.1.2.3 both get 220.1.2.3/8."""
    clusters = [cluster("a", "p2p", [], []), cluster("b", "p2p", [], [])]
    nodes = [cluster_node("a-n1", "a", "10.1.2.3"), cluster_node("b-n1", "b", "192.1.2.3")]
    plan = plan_federation(clusters, nodes, mac_source=stable_mac)
    first = {name: p.devices[0].addr for name, p in plan.nodes.items()}
    assert first["a-n1"] == "220.1.2.3/8"
    assert first["b-n1"] != "220.1.2.3/8"
    assert first["b-n1"].startswith("220.")

    # Recomputed with the previous configs, in the other order: nobody's address moves.
    previous = {name: p.to_spec() for name, p in plan.nodes.items()}
    again = plan_federation(clusters[::-1], nodes[::-1], previous, stable_mac)
    assert {name: p.devices[0].addr for name, p in again.nodes.items()} == first


def test_macs_of_previous_configs_are_kept() -> None:
    clusters = example_clusters("gateway", "gateway")
    first = plan_federation(clusters, example_nodes())
    previous = {name: p.to_spec() for name, p in first.nodes.items()}
    second = plan_federation(clusters, example_nodes(), previous)
    for name, plan in first.nodes.items():
        assert second.nodes[name].devices == plan.devices


def _with_bridge(c: Cluster, ip: str) -> Cluster:
    options = c.spec.cluster_link_options
    assert options is not None
    bridge = options.bridge_cidrs.model_copy(update={"ip": ip})
    new_options = options.model_copy(update={"bridge_cidrs": bridge})
    return c.model_copy(
        update={"spec": c.spec.model_copy(update={"cluster_link_options": new_options})}
    )


def test_an_invalid_cluster_only_loses_the_routes_toward_it() -> None:
    clusters = [
        cluster("a", "gateway", ["10.1.0.0/16"], ["11.1.0.0/16"]),
        cluster("b", "p2p", ["10.2.0.0/16"], ["11.2.0.0/16"]),
        cluster("c", "gateway", ["10.3.0.0/16"], ["11.3.0.0/16"]),
    ]
    nodes = [
        cluster_node(
            f"{c}-n{i}", c, f"192.168.{k}.{i}", gateway=i == 1, pod_cidrs=[f"10.{k}.{i}.0/24"]
        )
        for k, c in enumerate("abc", start=1)
        for i in (1, 2)
    ]
    planner = Planner(stable_mac)
    before = planner.load(clusters, nodes)
    delta = planner.apply(upsert_clusters=[_with_bridge(clusters[2], "not-a-cidr")])
    after = planner.plan

    # c's nodes keep their configuration as it is; they are held, not deleted.
    assert after.held == {"c-n1", "c-n2"}
    assert not delta.removed
    for name in ("c-n1", "c-n2"):
        assert after.nodes[name].entry_sets() == before.nodes[name].entry_sets()
    # Everybody else only lost entries toward c.
    for name in ("a-n1", "a-n2", "b-n1", "b-n2"):
        old, new = before.nodes[name].entry_sets(), after.nodes[name].entry_sets()
        devices, iptables = 0, 2
        assert new[devices] == old[devices]
        assert new[iptables] == old[iptables]
        lost_routes = old[1] - new[1]
        assert not new[1] - old[1]
        assert {r.cidr for r in lost_routes} <= {"10.3.0.0/16", "11.3.0.0/16"}
    assert ("Cluster/c", "spec.clusterLinkOptions.bridgeCIDRs.ip", "error") in problems_of(
        after.all_problems()
    )


def test_bad_entries_are_skipped_and_named() -> None:
    clusters = [
        cluster("a", "p2p", ["10.1.0.0/16", "10.1.0.0/33"], ["11.1.0.0/16"]),
        cluster("b", "p2p", ["10.2.0.0/16"], []),
    ]
    nodes = [
        cluster_node("a-n1", "a", "192.168.1.1", gateway=True, pod_cidrs=["10.1.1.0/24", "x"]),
        cluster_node("a-n2", "a", "not-an-ip"),
        cluster_node("a-n3", "a", "192.168.1.3", interface=""),
        cluster_node("b-n1", "b", "192.168.2.1"),
    ]
    plan = plan_federation(clusters, nodes, mac_source=stable_mac)
    found = problems_of(plan.all_problems())
    assert ("Cluster/a", "status.clusterLinkStatus.podCIDRs[1]", "error") in found
    assert ("ClusterNode/a-n1", "spec.podCIDRs[1]", "error") in found
    assert ("ClusterNode/a-n2", "spec.ip", "error") in found
    assert ("ClusterNode/a-n3", "spec.interfaceName", "error") in found
    assert {r.cidr for r in plan.nodes["b-n1"].routes()} == {"10.1.1.0/24", "11.1.0.0/16"}
    assert plan.held == {"a-n2", "a-n3"}


def test_a_p2p_clusters_node_pod_cidrs_inside_a_mapped_range_are_mapped() -> None:
    """Upstream maps only exact keys, so per-node /26s of a mapped /16 leak unmapped."""
    clusters = [
        cluster("a", "p2p", ["10.233.0.0/16"], []),
        cluster("b", "p2p", ["10.233.0.0/16"], [], global_map={"10.233.0.0/16": "10.100.0.0/16"}),
    ]
    nodes = [
        cluster_node("a-n1", "a", "192.168.1.1", pod_cidrs=["10.233.1.0/24"]),
        cluster_node("b-n1", "b", "192.168.2.1", pod_cidrs=["10.233.7.0/24"]),
    ]
    plan = plan_federation(clusters, nodes, mac_source=stable_mac)
    assert {r.cidr for r in plan.nodes["a-n1"].routes()} == {"10.100.7.0/24"}
    assert {r.rule for r in plan.nodes["b-n1"].iptables} == {
        "-d 10.100.0.0/16 -i vx-bridge -j NETMAP --to 10.233.0.0/16",
        "-s 10.233.0.0/16 -o vx-bridge -j NETMAP --to 10.100.0.0/16",
    }


def test_gateway_failover_changes_only_what_depends_on_the_gateway() -> None:
    clusters = [cluster(f"c{i}", "gateway", [f"10.{i}.0.0/16"], []) for i in range(4)]
    nodes = [
        cluster_node(f"c{i}-n{j}", f"c{i}", f"192.168.{i}.{j}", gateway=j == 1)
        for i in range(4)
        for j in (1, 2, 3)
    ]
    planner = Planner(stable_mac)
    planner.load(clusters, nodes)
    delta = planner.apply(
        upsert_nodes=[
            cluster_node("c0-n1", "c0", "192.168.0.1"),
            cluster_node("c0-n2", "c0", "192.168.0.2", gateway=True),
        ]
    )
    # c0's three nodes and the three other gateways; other internal nodes are untouched.
    assert set(delta.changed) == {"c0-n1", "c0-n2", "c0-n3", "c1-n1", "c2-n1", "c3-n1"}
    assert not delta.removed
    new_gateway = planner.plan.nodes["c0-n2"]
    assert {d.name for d in new_gateway.devices} == {"vx-local", "vx-bridge"}
    assert {r.gw for r in planner.plan.nodes["c0-n3"].routes()} == {
        next(d.addr.split("/")[0] for d in new_gateway.devices if d.name == "vx-local")
    }


def test_a_node_without_gateway_gets_no_service_routes_and_says_why_not() -> None:
    plan = plan_federation(
        example_clusters("p2p", "p2p"),
        [
            n.model_copy(update={"spec": n.spec.model_copy(update={"roles": []})})
            for n in example_nodes()
        ],
        mac_source=stable_mac,
    )
    cidrs = {r.cidr for r in plan.nodes["cluster-a-node1"].routes()}
    assert cidrs == {"10.234.10.0/26", "10.234.20.0/26"}
