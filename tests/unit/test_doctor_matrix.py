"""What the doctor probes: every ordered pair of floaters across clusters, per family and
network, one plan per source; sampling keeps gateways; mapped clusters are probed at their
global addresses and overlapping ones are skipped."""

from __future__ import annotations

from clusterlink.doctor.matrix import (
    ClusterNetwork,
    MatrixOptions,
    build_matrix,
    global_address,
    sample_nodes,
)
from clusterlink.floater.messages import FloaterInfo, Network


def floater(cluster: int, node: int, network: Network = "pod", v6: bool = True) -> FloaterInfo:
    if network == "pod":
        addresses = [f"10.{cluster}.{node}.11"] + ([f"fd33:{cluster}:{node}::b"] if v6 else [])
    else:
        addresses = [f"192.168.{cluster}.{10 + node}"] + ([f"fd10:{cluster}::{node}"] if v6 else [])
    suffix = "pod1" if network == "pod" else "host"
    name = f"cluster{cluster}-node{node}-{suffix}"
    return FloaterInfo(name, f"cluster{cluster}", f"node{node}", network, tuple(addresses))


def federation(clusters: int, nodes: int) -> list[FloaterInfo]:
    return [
        floater(c, n, network)
        for c in range(1, clusters + 1)
        for n in range(1, nodes + 1)
        for network in ("pod", "host")
    ]


def test_every_ordered_pair_across_clusters_is_checked_in_both_directions() -> None:
    matrix = build_matrix("r", federation(2, 2), MatrixOptions(), {})

    pairs = {(c.source.name, c.destination.name) for c in matrix.checks}
    assert ("cluster1-node1-pod1", "cluster2-node2-pod1") in pairs
    assert ("cluster2-node2-pod1", "cluster1-node1-pod1") in pairs
    assert len(pairs) == 2 * 2 * 2  # 4 sources, 2 remote destinations each
    assert all(c.source.cluster != c.destination.cluster for c in matrix.checks)


def test_each_family_and_protocol_becomes_a_probe() -> None:
    matrix = build_matrix("r", federation(2, 2), MatrixOptions(), {})

    assert len(matrix.checks) == 8 * 2
    assert matrix.probe_count == len(matrix.checks) * 3  # ping, tcp, http


def test_host_network_pairs_only_host_floaters_and_pod_only_pods() -> None:
    options = MatrixOptions(networks=("pod", "host"))

    matrix = build_matrix("r", federation(2, 1), options, {})

    assert {(c.source.network, c.destination.network) for c in matrix.checks} == {
        ("pod", "pod"),
        ("host", "host"),
    }


def test_one_family_and_protocol_can_be_chosen() -> None:
    options = MatrixOptions(protocol="tcp", ip_family="ipv6", mtu=True)

    matrix = build_matrix("r", federation(2, 1), options, {})

    assert {c.family for c in matrix.checks} == {6}
    assert {p for _, plan in matrix.plans for t in plan.targets for p in t.protocols} == {
        "tcp",
        "mtu",
    }


def test_a_family_missing_on_either_side_is_not_probed() -> None:
    floaters = [floater(1, 1), floater(2, 1, v6=False)]

    matrix = build_matrix("r", floaters, MatrixOptions(), {})

    assert {c.family for c in matrix.checks} == {4}


def test_a_single_cluster_is_checked_between_its_nodes() -> None:
    matrix = build_matrix("r", federation(1, 2), MatrixOptions(), {})

    assert {(c.source.node, c.destination.node) for c in matrix.checks} == {
        ("node1", "node2"),
        ("node2", "node1"),
    }


def test_inside_one_cluster_pods_are_probed_at_their_own_addresses_even_when_mapped() -> None:
    mapped = ClusterNetwork(("10.1.0.0/16",), {"10.1.0.0/16": "10.53.0.0/16"})
    floaters = [floater(1, 1, v6=False), floater(1, 2, v6=False)]

    matrix = build_matrix("r", floaters, MatrixOptions(), {"cluster1": mapped})

    assert sorted(c.address for c in matrix.checks) == ["10.1.1.11", "10.1.2.11"]


def test_each_source_gets_one_plan_with_all_its_targets() -> None:
    matrix = build_matrix("r", federation(3, 3), MatrixOptions(), {})

    assert len(matrix.plans) == 9
    source, plan = matrix.plans[0]
    assert plan.floater == source.name
    assert len(plan.targets) == 6 * 2  # 6 remote pods, 2 families
    assert {t.port for t in plan.targets} == {8889}


def test_sampling_keeps_gateways_and_fills_up_with_other_nodes() -> None:
    floaters = [floater(c, n) for c in (1, 2) for n in (1, 2, 3, 4)]

    kept = sample_nodes(floaters, 2, {("cluster1", "node3")})

    assert {(f.cluster, f.node) for f in kept} == {
        ("cluster1", "node3"),
        ("cluster1", "node1"),
        ("cluster2", "node1"),
        ("cluster2", "node2"),
    }


def test_mapped_clusters_are_probed_at_their_global_address() -> None:
    overlap = ClusterNetwork(("10.1.0.0/16",), {"10.1.0.0/16": "10.53.0.0/16"})
    clusters = {"cluster2": ClusterNetwork(("10.2.0.0/16",)), "cluster3": overlap}
    floaters = [floater(2, 1, v6=False), floater(1, 1, v6=False)]
    floaters[1] = FloaterInfo("c3-pod", "cluster3", "node1", "pod", ("10.1.1.11",))

    matrix = build_matrix("r", floaters, MatrixOptions(), clusters)

    to_mapped = [c for c in matrix.checks if c.destination.cluster == "cluster3"]
    assert [c.address for c in to_mapped] == ["10.53.1.11"]


def test_clusters_with_overlapping_pod_ranges_are_not_paired() -> None:
    clusters = {
        "cluster1": ClusterNetwork(("10.1.0.0/16",)),
        "cluster2": ClusterNetwork(("10.1.0.0/16",)),
    }

    matrix = build_matrix("r", federation(2, 1), MatrixOptions(), clusters)

    assert {c.network for c in matrix.checks} == set()


def test_global_address_keeps_unmapped_addresses() -> None:
    assert global_address("10.2.1.11", ClusterNetwork(("10.2.0.0/16",))) == "10.2.1.11"
    assert global_address("10.2.1.11", None) == "10.2.1.11"
