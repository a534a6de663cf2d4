"""Pods of different clusters reach each other once every node is converged to its spec,
in P2P shape (two nodes) and gateway shape (three nodes), over IPv4 and IPv6."""

from __future__ import annotations

from clusterlink.dataplane import converge
from tests.dataplane.lab import Lab, Node, gateway_spec, p2p_spec

A1, A2, B1 = Node("a1", "a", 11), Node("a2", "a", 12), Node("b1", "b", 21)


def test_p2p_pods_reach_each_other_over_ipv4_and_ipv6(lab: Lab) -> None:
    lab.build([A1, B1])
    assert not lab.ping("a1-pod", B1.pod4), "clusters must not be linked before the agent runs"

    for node, peer in ((A1, B1), (B1, A1)):
        result = converge(p2p_spec(node, [peer]), lab.ns(node.name))
        assert result.converged, result.failed

    assert lab.ping("a1-pod", B1.pod4)
    assert lab.ping("a1-pod", B1.pod6)
    assert lab.ping("b1-pod", A1.pod4)
    assert lab.ping("b1-pod", A1.pod6)


def test_gateway_shape_carries_an_internal_node_through_both_gateways(lab: Lab) -> None:
    lab.build([A1, A2, B1])  # a1 gateway of cluster a (a2 internal), b1 gateway of b
    specs = {
        A1: gateway_spec(A1, gateway=A1, internal=[A2], remote_gateways=[B1]),
        A2: gateway_spec(A2, gateway=A1, internal=[A2], remote_gateways=[B1]),
        B1: gateway_spec(B1, gateway=B1, internal=[], remote_gateways=[A1]),
    }
    for node, spec in specs.items():
        result = converge(spec, lab.ns(node.name))
        assert result.converged, result.failed

    # a2 -> vx-local -> a1 -> vx-bridge -> b1; back b1 -> a1 -> CNI route -> a2, an
    # asymmetric path that strict rp_filter (set on every node) would drop without the
    # agent's loose setting on the bound interface.
    assert lab.ping("a2-pod", B1.pod4)
    assert lab.ping("a2-pod", B1.pod6)
    assert lab.ping("b1-pod", A2.pod4)
    assert lab.ping("b1-pod", A2.pod6)
    assert lab.ping("a1-pod", B1.pod4)
