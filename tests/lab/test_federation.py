"""End to end: federations built by ``kosmosctl lab up`` connect every pod to every pod of
the other clusters, only through ClusterLink (the router knows no pod routes)."""

from __future__ import annotations

import json

from tests.lab.conftest import LabFactory
from tests.lab.support import (
    cross_cluster_pairs,
    http_server,
    unanswered_http,
    unreachable_pairs,
)


def test_p2p_federation_connects_every_pod_to_every_pod_of_the_other_cluster_over_both_families(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="p2p", ip_family="all")

    assert unreachable_pairs(cross_cluster_pairs(lab, family=4)) == []
    assert unreachable_pairs(cross_cluster_pairs(lab, family=6)) == []


def test_gateway_federation_connects_every_pod_through_one_gateway_per_cluster(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="gateway", ip_family="ipv4")

    status = json.loads(lab.cli("status", "-o", "json").stdout)
    gateways = {
        c["name"]: [n["path"] for n in c["nodes"] if n["role"] == "gateway"]
        for c in status["clusters"]
    }
    assert all(len(nodes) == 1 for nodes in gateways.values()), gateways
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []


def test_mixed_federation_connects_a_p2p_cluster_with_a_gateway_cluster(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="mixed", ip_family="all")

    status = json.loads(lab.cli("status", "-o", "json").stdout)
    assert [c["networkType"] for c in status["clusters"]] == ["p2p", "gateway"]
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []


def test_tcp_connections_cross_clusters_both_ways_over_both_families(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="mixed", ip_family="all")
    p2p_pod, gateway_pod = lab.pod("cluster1/node2/pod1"), lab.pod("cluster2/node2/pod1")

    requests = [(p2p_pod, ip) for ip in gateway_pod.ips] + [(gateway_pod, ip) for ip in p2p_pod.ips]

    with http_server(p2p_pod), http_server(gateway_pod):
        assert unanswered_http(requests) == []


def test_a_cluster_reusing_another_clusters_pod_cidr_is_reached_through_its_global_cidr(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="p2p", ip_family="ipv4", overlap=True)
    overlapping = lab.pod("cluster3/node1/pod1")
    assert overlapping.ip4 == lab.pod("cluster1/node1/pod1").ip4

    global_address = lab.address_of("cluster2/node1/pod1", "cluster3/node1/pod1")
    assert global_address != overlapping.ip4
    both_ways = [
        (lab.pod("cluster2/node1/pod1"), global_address),
        (overlapping, lab.address_of("cluster3/node1/pod1", "cluster2/node1/pod1")),
    ]
    assert unreachable_pairs(both_ways) == []
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []
