"""How a converge pass behaves on a node: idempotent, never tearing down what it keeps,
re-creating a device together with everything on it, removing only its own stale state,
rejecting bad specs untouched, and reporting per-entry failures."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from clusterlink.api.models import Device, NodeConfigSpec, Route
from clusterlink.dataplane import InvalidSpecError, converge
from tests.dataplane.lab import Lab, Node, p2p_spec, sh

A1, B1 = Node("a1", "a", 11), Node("b1", "b", 21)


def ip_json(ns: str, *args: str) -> Any:
    return json.loads(sh("ip", "-n", ns, "-j", *args).stdout or "[]")


def ifindex(ns: str, device: str) -> int:
    return int(ip_json(ns, "link", "show", device)[0]["ifindex"])


def table200(ns: str, family: str = "-4") -> list[str]:
    out = sh("ip", "-n", ns, family, "route", "show", "table", "200", check=False).stdout
    return sorted(line.strip() for line in out.splitlines())


def snapshot(ns: str) -> dict[str, str]:
    """Everything a pass could change in a namespace, as text."""
    commands = {
        "links": ("ip", "-n", ns, "-d", "link", "show"),
        "addresses": ("ip", "-n", ns, "addr", "show"),
        "routes4": ("ip", "-n", ns, "-4", "route", "show", "table", "all"),
        "routes6": ("ip", "-n", ns, "-6", "route", "show", "table", "all"),
        "rules4": ("ip", "-n", ns, "-4", "rule", "show"),
        "rules6": ("ip", "-n", ns, "-6", "rule", "show"),
        "neighbours": ("ip", "-n", ns, "neigh", "show", "nud", "permanent"),
        "fdb": ("bridge", "-n", ns, "fdb", "show"),
        "iptables": ("ip", "netns", "exec", ns, "iptables-save"),
        "ip6tables": ("ip", "netns", "exec", ns, "ip6tables-save"),
        "sysctl": ("ip", "netns", "exec", ns, "sysctl", "net.ipv4.ip_forward", "net.ipv4.conf"),
    }
    state = {key: sh(*argv, check=False).stdout for key, argv in commands.items()}
    for key in ("iptables", "ip6tables"):  # without comments and packet counters
        lines = (line for line in state[key].splitlines() if line[:1] != "#")
        state[key] = "\n".join(re.sub(r" \[\d+:\d+\]$", "", line) for line in lines)
    return state


@pytest.fixture
def node(lab: Lab) -> str:
    """Node a1 of a two-node P2P lab, converged to its spec."""
    lab.build([A1, B1])
    result = converge(p2p_spec(A1, [B1]), lab.ns("a1"))
    assert result.converged, result.failed
    return lab.ns("a1")


def test_second_apply_changes_nothing_and_says_so(node: str) -> None:
    again = converge(p2p_spec(A1, [B1]), node)

    assert again.applied == ()
    assert again.failed == ()
    assert again.converged


def test_restarted_agent_with_same_spec_recreates_nothing(node: str) -> None:
    before = snapshot(node)
    indexes = {name: ifindex(node, name) for name in ("vx-bridge", "vx-bridge-6")}

    restarted = converge(p2p_spec(A1, [B1]), node)  # a new process: no baseline

    assert restarted.applied == ()
    assert {name: ifindex(node, name) for name in indexes} == indexes
    assert snapshot(node) == before


def test_vni_change_recreates_the_device_and_restores_its_entries_in_the_same_pass(
    lab: Lab, node: str
) -> None:
    spec = p2p_spec(A1, [B1])
    old_index = ifindex(node, "vx-bridge")
    routes_before = table200(node)
    devices = tuple(
        d.model_copy(update={"id": 4054}) if d.name == "vx-bridge" else d for d in spec.devices
    )
    peer = p2p_spec(B1, [A1])
    peer_devices = tuple(
        d.model_copy(update={"id": 4054}) if d.name == "vx-bridge" else d for d in peer.devices
    )

    result = converge(spec.model_copy(update={"devices": devices}), node)
    converge(peer.model_copy(update={"devices": peer_devices}), lab.ns("b1"))

    assert result.converged, result.failed
    assert [str(c) for c in result.applied if c.kind == "link"] == [
        "delete link vx-bridge",
        "recreate link vx-bridge vxlan id 4054 dstport 4876 local 192.168.100.11 dev eth0"
        " address 0e:54:00:00:00:0b mtu 1450",
    ]
    assert ifindex(node, "vx-bridge") != old_index
    assert (
        ip_json(node, "-d", "link", "show", "vx-bridge")[0]["linkinfo"]["info_data"]["id"] == 4054
    )
    assert table200(node) == routes_before
    fdb = sh("bridge", "-n", node, "fdb", "show", "dev", "vx-bridge").stdout
    assert "00:00:00:00:00:00 dst 192.168.100.21 self permanent" in fdb
    neigh = sh("ip", "-n", node, "neigh", "show", "dev", "vx-bridge", "nud", "permanent").stdout
    assert "172.30.0.21 lladdr 0e:54:00:00:00:15 PERMANENT" in neigh
    assert lab.ping("a1-pod", B1.pod4)


def test_mac_and_address_change_in_place_without_recreating_the_device(node: str) -> None:
    spec = p2p_spec(A1, [B1])
    index = ifindex(node, "vx-bridge")
    changed = tuple(
        d.model_copy(update={"mac": "0e:54:00:00:aa:0b", "addr": "172.30.1.11/16"})
        if d.name == "vx-bridge"
        else d
        for d in spec.devices
    )

    result = converge(spec.model_copy(update={"devices": changed}), node)

    assert result.converged, result.failed
    assert ifindex(node, "vx-bridge") == index
    link = ip_json(node, "addr", "show", "vx-bridge")[0]
    assert link["address"] == "0e:54:00:00:aa:0b"
    globals_ = [a["local"] for a in link["addr_info"] if a.get("scope") == "global"]
    assert globals_ == ["172.30.1.11"]
    assert table200(node) == ["10.20.21.0/24 via 172.30.0.21 dev vx-bridge onlink"]


def test_device_mtu_follows_the_bound_interface_minus_the_encapsulation(lab: Lab) -> None:
    lab.build([A1, B1])
    node = lab.ns("a1")
    sh("ip", "-n", node, "link", "set", "eth0", "mtu", "1400")

    converge(p2p_spec(A1, [B1]), node)
    assert ip_json(node, "link", "show", "vx-bridge")[0]["mtu"] == 1350
    assert ip_json(node, "link", "show", "vx-bridge-6")[0]["mtu"] == 1330

    sh("ip", "-n", node, "link", "set", "eth0", "mtu", "1500")
    index = ifindex(node, "vx-bridge")
    result = converge(p2p_spec(A1, [B1]), node)
    assert ip_json(node, "link", "show", "vx-bridge")[0]["mtu"] == 1450
    assert ifindex(node, "vx-bridge") == index
    assert {str(c) for c in result.applied if c.kind == "link"} == {
        "update link vx-bridge mtu 1450",
        "update link vx-bridge-6 mtu 1430",
    }


def test_foreign_routes_rules_devices_and_chains_are_left_untouched(node: str) -> None:
    foreign = [
        ("ip", "-n", node, "route", "add", "10.77.0.0/16", "via", "192.168.100.21"),
        ("ip", "-n", node, "route", "add", "10.78.0.0/16", "dev", "eth0", "table", "300"),
        ("ip", "-n", node, "rule", "add", "pref", "300", "lookup", "300"),
        ("ip", "-n", node, "rule", "add", "pref", "200", "from", "10.0.0.0/8", "lookup", "300"),
        ("ip", "-n", node, "link", "add", "cni0", "type", "bridge"),
        ("ip", "-n", node, "neigh", "add", "192.168.100.99", "lladdr", "02:00:00:00:00:99",
         "dev", "eth0", "nud", "permanent"),
        ("ip", "netns", "exec", node, "iptables", "-t", "nat", "-N", "CNI-NAT"),
        ("ip", "netns", "exec", node, "iptables", "-t", "nat", "-A", "POSTROUTING",
         "-s", "10.10.11.0/24", "-j", "CNI-NAT"),
        ("ip", "netns", "exec", node, "iptables", "-t", "filter", "-A", "FORWARD",
         "-i", "pod0", "-j", "ACCEPT"),
    ]  # fmt: skip
    for argv in foreign:
        sh(*argv)
    before = snapshot(node)

    unchanged = converge(p2p_spec(A1, [B1]), node)
    assert unchanged.applied == ()
    assert snapshot(node) == before

    removal = converge(NodeConfigSpec(), node)  # everything of ours goes
    assert removal.converged, removal.failed
    after = snapshot(node)
    assert "vx-bridge" not in after["links"]
    assert "lookup 200" not in after["rules4"] + after["rules6"]
    assert "CLUSTERLINK" not in after["iptables"] + after["ip6tables"]
    assert "10.77.0.0/16 via 192.168.100.21 dev eth0" in after["routes4"]
    assert "10.78.0.0/16 dev eth0 table 300" in after["routes4"]
    assert "300:\tfrom all lookup 300" in after["rules4"]
    assert "200:\tfrom 10.0.0.0/8 lookup 300" in after["rules4"]
    assert "cni0" in after["links"]
    assert "192.168.100.99 dev eth0 lladdr 02:00:00:00:00:99 PERMANENT" in after["neighbours"]
    assert ":CNI-NAT -" in after["iptables"]
    assert "-A POSTROUTING -s 10.10.11.0/24 -j CNI-NAT" in after["iptables"]
    assert "-A FORWARD -i pod0 -j ACCEPT" in after["iptables"]


def test_stale_entries_devices_and_addresses_are_removed(node: str) -> None:
    sh("ip", "-n", node, "route", "add", "10.66.0.0/16", "via", "172.30.0.66", "dev", "vx-bridge",
       "onlink", "table", "200")  # fmt: skip
    sh("ip", "-n", node, "addr", "add", "172.30.9.9/16", "dev", "vx-bridge")
    sh("bridge", "-n", node, "fdb", "append", "0e:00:00:00:00:66", "dev", "vx-bridge",
       "dst", "192.168.100.66", "self", "permanent")  # fmt: skip
    sh("ip", "-n", node, "neigh", "replace", "172.30.0.66", "lladdr", "0e:00:00:00:00:66",
       "dev", "vx-bridge", "nud", "permanent")  # fmt: skip
    spec = p2p_spec(A1, [B1])
    v4_only = spec.model_copy(
        update={
            "devices": tuple(d for d in spec.devices if d.name == "vx-bridge"),
            "routes": tuple(r for r in spec.routes if r.dev == "vx-bridge"),
            "fdbs": tuple(f for f in spec.fdbs if f.dev == "vx-bridge"),
            "arps": tuple(a for a in spec.arps if a.dev == "vx-bridge"),
        }
    )

    result = converge(v4_only, node)

    assert result.converged, result.failed
    assert table200(node) == ["10.20.21.0/24 via 172.30.0.21 dev vx-bridge onlink"]
    assert table200(node, "-6") == []
    assert "vx-bridge-6" not in sh("ip", "-n", node, "link", "show").stdout
    assert "lookup 200" not in sh("ip", "-n", node, "-6", "rule", "show").stdout
    assert "lookup 200" in sh("ip", "-n", node, "-4", "rule", "show").stdout
    assert "172.30.9.9" not in sh("ip", "-n", node, "addr", "show", "vx-bridge").stdout
    fdb = sh("bridge", "-n", node, "fdb", "show", "dev", "vx-bridge").stdout
    assert "0e:00:00:00:00:66" not in fdb
    assert "192.168.100.21" in fdb
    neigh = sh("ip", "-n", node, "neigh", "show", "dev", "vx-bridge", "nud", "permanent").stdout
    assert neigh.split() == ["172.30.0.21", "lladdr", "0e:54:00:00:00:15", "PERMANENT"]
    assert converge(v4_only, node).applied == ()


def test_changed_next_hop_is_replaced_in_place_before_anything_is_deleted(node: str) -> None:
    spec = p2p_spec(A1, [B1])
    moved = tuple(
        r.model_copy(update={"gw": "172.30.0.22"}) if r.dev == "vx-bridge" else r
        for r in spec.routes
    )
    extra = (Route(cidr="10.30.0.0/16", gw="172.30.0.21", dev="vx-bridge"),)

    result = converge(spec.model_copy(update={"routes": moved + extra}), node)

    assert [str(c) for c in result.applied] == [
        "replace route 10.20.21.0/24 via 172.30.0.22 dev vx-bridge table 200",
        "replace route 10.30.0.0/16 via 172.30.0.21 dev vx-bridge table 200",
    ]
    assert table200(node) == [
        "10.20.21.0/24 via 172.30.0.22 dev vx-bridge onlink",
        "10.30.0.0/16 via 172.30.0.21 dev vx-bridge onlink",
    ]


TYPO_DEVICE = Device(
    name="vx-typo",
    addr="172.31.0.11/16",
    mac="0e:55:00:00:00:0b",
    bind_dev="eth0",
    id=55,
    port=4877,
)


@pytest.mark.parametrize(
    ("bad_route", "bad_device", "field"),
    [
        (
            Route(cidr="10.300.0.0/16", gw="172.30.0.21", dev="vx-bridge"),
            None,
            "spec.routes[2].cidr",
        ),
        (Route(cidr="10.40.0.0/16", gw="fdb0::21", dev="vx-bridge"), None, "spec.routes[2].gw"),
        (Route(cidr="10.40.0.0/16", gw="172.30.0.21", dev="eth0"), None, "spec.routes[2].dev"),
        (None, TYPO_DEVICE, "spec.devices[2].name"),
    ],
    ids=["unparsable-cidr", "gateway-of-wrong-family", "unknown-route-device", "unknown-device"],
)
def test_invalid_spec_is_rejected_naming_the_field_and_nothing_changes(
    node: str, bad_route: Route | None, bad_device: Device | None, field: str
) -> None:
    spec = p2p_spec(A1, [B1])
    bad = spec.model_copy(
        update={
            "routes": spec.routes + ((bad_route,) if bad_route else ()),
            "devices": spec.devices + ((bad_device,) if bad_device else ()),
        }
    )
    sh("ip", "-n", node, "route", "del", "10.20.21.0/24", "table", "200")  # work is pending
    before = snapshot(node)

    with pytest.raises(InvalidSpecError) as raised:
        converge(bad, node)

    assert field in [problem.field for problem in raised.value.problems]
    assert snapshot(node) == before


def test_one_refused_entry_is_reported_with_the_kernel_message_and_the_rest_applied(
    node: str,
) -> None:
    spec = p2p_spec(A1, [B1])
    own_address = Route(cidr="10.50.0.0/16", gw="172.30.0.11", dev="vx-bridge")
    good = Route(cidr="10.51.0.0/16", gw="172.30.0.21", dev="vx-bridge")

    result = converge(spec.model_copy(update={"routes": (own_address, good, *spec.routes)}), node)

    assert not result.converged
    assert [(str(f.change), f.message) for f in result.failed] == [
        (
            "replace route 10.50.0.0/16 via 172.30.0.11 dev vx-bridge table 200",
            "Error: Nexthop has invalid gateway.",
        )
    ]
    assert "replace route 10.51.0.0/16 via 172.30.0.21 dev vx-bridge table 200" in [
        str(c) for c in result.applied
    ]
    assert "10.51.0.0/16 via 172.30.0.21 dev vx-bridge onlink" in table200(node)


def test_device_whose_bound_interface_is_missing_fails_alone(node: str) -> None:
    spec = p2p_spec(A1, [B1])
    moved = tuple(
        d.model_copy(update={"bind_dev": "eth9"}) if d.name == "vx-bridge-6" else d
        for d in spec.devices
    )
    before = table200(node, "-6")

    result = converge(spec.model_copy(update={"devices": moved}), node)

    assert [(str(f.change), f.message) for f in result.failed] == [
        ("update link vx-bridge-6", "bound interface eth9 does not exist")
    ]
    assert table200(node, "-6") == before  # left as it was, not torn down


def test_dry_run_lists_the_changes_and_makes_none(lab: Lab) -> None:
    lab.build([A1, B1])
    node = lab.ns("a1")
    before = snapshot(node)

    planned = converge(p2p_spec(A1, [B1]), node, dry_run=True)

    assert snapshot(node) == before
    assert not planned.converged
    assert "replace route 10.20.21.0/24 via 172.30.0.21 dev vx-bridge table 200" in [
        str(c) for c in planned.applied
    ]
    applied = converge(p2p_spec(A1, [B1]), node)
    assert [str(c) for c in applied.applied] == [str(c) for c in planned.applied]


def test_sysctls_enable_forwarding_and_loose_reverse_path_filtering(node: str) -> None:
    def value(key: str) -> str:
        return sh("ip", "netns", "exec", node, "sysctl", "-n", key).stdout.strip()

    assert value("net.ipv4.ip_forward") == "1"
    assert value("net.ipv6.conf.all.forwarding") == "1"
    assert value("net.ipv4.conf.vx-bridge.rp_filter") == "2"
    assert value("net.ipv4.conf.eth0.rp_filter") == "2"
    assert value("net.ipv6.conf.vx-bridge-6.disable_ipv6") == "0"


def test_baseline_pass_repairs_a_device_deleted_behind_its_back(node: str) -> None:
    spec = p2p_spec(A1, [B1])
    first = converge(spec, node)
    assert first.baseline is not None
    sh("ip", "-n", node, "link", "del", "vx-bridge")

    repaired = converge(spec, node, baseline=first.baseline)

    assert repaired.converged, repaired.failed
    assert table200(node) == ["10.20.21.0/24 via 172.30.0.21 dev vx-bridge onlink"]
    assert "192.168.100.21" in sh("bridge", "-n", node, "fdb", "show", "dev", "vx-bridge").stdout


def test_missing_namespace_is_an_error_and_is_not_created(lab: Lab) -> None:
    missing = lab.ns("never-created")

    with pytest.raises(RuntimeError, match="does not exist"):
        converge(p2p_spec(A1, [B1]), missing)
    assert missing not in sh("ip", "netns", "list").stdout


def test_update_with_a_baseline_applies_the_difference_and_resync_repairs_drift(
    node: str,
) -> None:
    spec = p2p_spec(A1, [B1])
    first = converge(spec, node)
    assert first.baseline is not None
    extra = Route(cidr="10.30.0.0/16", gw="172.30.0.21", dev="vx-bridge")

    update = converge(spec.model_copy(update={"routes": (*spec.routes, extra)}), node,
                      baseline=first.baseline)  # fmt: skip

    assert [str(c) for c in update.applied] == [
        "replace route 10.30.0.0/16 via 172.30.0.21 dev vx-bridge table 200"
    ]
    assert update.baseline is not None
    sh("ip", "-n", node, "route", "del", "10.20.21.0/24", "table", "200")  # drift
    resync = converge(
        spec.model_copy(update={"routes": (*spec.routes, extra)}),
        node,
        baseline=update.baseline.for_resync(),
    )
    assert [str(c) for c in resync.applied] == [
        "replace route 10.20.21.0/24 via 172.30.0.21 dev vx-bridge table 200"
    ]
