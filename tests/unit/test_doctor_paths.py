"""A failed check is explained by the path its packets should take, read from NodeConfigs:
each hop's route, gateway and agent report, and the kernel's route when it differs."""

from __future__ import annotations

from typing import Any

from clusterlink.doctor.matrix import Check
from clusterlink.doctor.paths import explain, walk
from clusterlink.floater.messages import FloaterInfo
from clusterlink.floater.outcome import RouteLookup


def node_config(
    name: str, device: str, routes: list[tuple[str, str]], *, applied: bool = True
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": 2},
        "spec": {
            "devices": [{"name": "vx-bridge", "addr": f"{device}/16"}],
            "routes": [{"cidr": c, "gw": g, "dev": "vx-bridge"} for c, g in routes],
        },
        "status": {
            "observedGeneration": 2,
            "conditions": [
                {
                    "type": "Applied",
                    "status": "True" if applied else "False",
                    "message": "" if applied else "route 10.2.1.0/24: no such device",
                }
            ],
        },
    }


def p2p(*, applied: bool = True) -> dict[str, dict[str, Any]]:
    return {
        "cluster1-node1": node_config(
            "cluster1-node1", "198.19.1.11", [("10.2.1.0/24", "198.19.2.11")], applied=applied
        ),
        "cluster2-node1": node_config(
            "cluster2-node1", "198.19.2.11", [("10.1.1.0/24", "198.19.1.11")]
        ),
    }


def check() -> Check:
    source = FloaterInfo("c1n1-pod", "cluster1", "node1", "pod", ("10.1.1.11",))
    destination = FloaterInfo("c2n1-pod", "cluster2", "node1", "pod", ("10.2.1.11",))
    return Check(source, destination, 4, "10.2.1.11")


def test_the_path_follows_routes_through_the_owners_of_their_gateways() -> None:
    hops = walk(p2p(), "cluster1-node1", "10.2.1.11", "cluster2-node1", {})

    assert [h.node for h in hops] == ["cluster1-node1", "cluster2-node1"]
    assert (hops[0].cidr, hops[0].gateway, hops[0].dev) == (
        "10.2.1.0/24",
        "198.19.2.11",
        "vx-bridge",
    )
    assert hops[1].note == "delivers to the target"


def test_a_gateway_cluster_path_goes_through_both_gateways() -> None:
    configs = {
        "c1-n2": node_config("c1-n2", "198.18.1.12", [("10.2.0.0/16", "198.18.1.11")]),
        "c1-n1": node_config("c1-n1", "198.18.1.11", [("10.2.0.0/16", "198.19.2.11")]),
        "c2-n1": node_config("c2-n1", "198.19.2.11", [("10.2.2.0/24", "198.18.2.12")]),
        "c2-n2": node_config("c2-n2", "198.18.2.12", []),
    }
    configs["c1-n1"]["spec"]["devices"].append({"name": "vx-bridge", "addr": "198.19.1.11/16"})
    configs["c2-n1"]["spec"]["devices"].append({"name": "vx-local", "addr": "198.18.2.11/16"})

    hops = walk(configs, "c1-n2", "10.2.2.11", "c2-n2", {})

    assert [h.node for h in hops] == ["c1-n2", "c1-n1", "c2-n1", "c2-n2"]


def test_a_node_that_did_not_apply_its_config_is_blamed() -> None:
    explanation = explain(check(), ("ping",), "10.1.1.11", p2p(applied=False), {})

    assert explanation.suspect == "cluster1-node1"
    assert "has not applied its NodeConfig" in explanation.verdict
    assert "no such device" in explanation.verdict


def test_a_node_whose_kernel_routes_elsewhere_is_blamed_although_it_reports_applied() -> None:
    kernel = {("cluster2-node1", "10.1.1.11"): RouteLookup("10.1.1.11", "eth0", "192.168.2.1")}

    explanation = explain(check(), ("ping",), "10.1.1.11", p2p(), kernel)

    assert explanation.suspect == "cluster2-node1"
    assert "drifted" in explanation.verdict
    assert "kernel: via 192.168.2.1 dev eth0" in explanation.verdict


def test_a_kernel_route_that_matches_the_config_is_not_blamed() -> None:
    kernel = {("cluster1-node1", "10.2.1.11"): RouteLookup("10.2.1.11", "vx-bridge", "198.19.2.11")}

    explanation = explain(check(), ("ping",), "10.1.1.11", p2p(), kernel)

    assert "every node on the path" in explanation.verdict
    assert explanation.suspect == "cluster1-node1"


def test_a_missing_route_means_the_underlay_carries_it() -> None:
    hops = walk(p2p(), "cluster1-node1", "192.168.2.11", "cluster2-node1", {})

    assert len(hops) == 1
    assert "underlay" in hops[0].note


def test_a_gateway_no_node_holds_is_reported() -> None:
    configs = p2p()
    configs["cluster1-node1"]["spec"]["routes"][0]["gw"] = "198.19.9.9"

    explanation = explain(check(), ("tcp",), "10.1.1.11", configs, {})

    assert "no node holds gateway 198.19.9.9" in explanation.verdict


def test_a_node_without_node_config_is_named() -> None:
    configs = p2p()
    del configs["cluster2-node1"]

    explanation = explain(check(), ("tcp",), "10.1.1.11", configs, {})

    assert explanation.suspect == "cluster2-node1"
    assert "no NodeConfig" in explanation.verdict


def test_inside_the_destination_cluster_its_own_network_delivers() -> None:
    configs = {
        "c1-n1": node_config("c1-n1", "198.19.1.11", [("10.2.0.0/16", "198.19.2.12")]),
        "c2-n2": node_config("c2-n2", "198.19.2.12", []),
        "c2-n1": node_config("c2-n1", "198.18.2.11", []),
    }
    for name, config in configs.items():
        config["metadata"]["labels"] = {"kosmos.io/cluster": name.split("-")[0]}

    hops = walk(configs, "c1-n1", "10.2.1.11", "c2-n1", {})

    assert [h.node for h in hops] == ["c1-n1", "c2-n2", "c2-n1"]
    assert hops[1].note == "its cluster's own network delivers it"
