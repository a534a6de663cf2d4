"""The data plane's pure parts: printed-line diffs, rendering, ordering of the plan,
iptables scripts and per-line error attribution. No kernel, no root."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clusterlink.api.errors import ObjectRef
from clusterlink.api.models import Arp, Device, Fdb, Iptables, NodeConfigSpec, Route
from clusterlink.dataplane import entries as e
from clusterlink.dataplane import iptables as ipt
from clusterlink.dataplane.apply import batch_errors
from clusterlink.dataplane.checks import InvalidSpecError
from clusterlink.dataplane.diff import compare_lines, reconcile
from clusterlink.dataplane.netns import CommandResult
from clusterlink.dataplane.plan import Plan, make_plan
from clusterlink.dataplane.render import render
from clusterlink.dataplane.state import ActualState, Address, Link, Tables, Vxlan, _tables

REF = ObjectRef("NodeConfig", "n1")
TOOLS = {family: ipt.Tools("nf_tables", "save", "restore") for family in (4, 6)}
ETH0 = Link(
    name="eth0",
    index=2,
    kind="veth",
    mtu=1500,
    mac="02:00:00:00:00:01",
    up=True,
    addresses=(Address(4, "192.168.0.1/24", "global"), Address(6, "fd10::1/64", "global")),
    vxlan=None,
)
VX_BRIDGE = Device(
    name="vx-bridge",
    addr="172.30.0.1/16",
    mac="0e:54:00:00:00:01",
    bind_dev="eth0",
    id=54,
    port=4876,
)
ROUTE = Route(cidr="10.2.0.0/24", gw="172.30.0.2", dev="vx-bridge")
FDB = Fdb(ip="192.168.0.2", mac="00:00:00:00:00:00", dev="vx-bridge")
ARP = Arp(ip="172.30.0.2", mac="0e:54:00:00:00:02", dev="vx-bridge")
SPEC = NodeConfigSpec(devices=(VX_BRIDGE,), routes=(ROUTE,), fdbs=(FDB,), arps=(ARP,))


def existing_vx_bridge(vni: int = 54, index: int = 7) -> Link:
    return Link(
        name="vx-bridge",
        index=index,
        kind="vxlan",
        mtu=1450,
        mac="0e:54:00:00:00:01",
        up=True,
        addresses=(Address(4, "172.30.0.1/16", "global"),),
        vxlan=Vxlan(vni=vni, port=4876, local="192.168.0.1", link="eth0", learning=False),
    )


def actual(
    links: tuple[Link, ...] = (ETH0,),
    routes: frozenset[str] = frozenset(),
    fdb: frozenset[str] = frozenset(),
    neigh: frozenset[str] = frozenset(),
    rules: int = 0,
) -> ActualState:
    settled = {
        "net/ipv4/ip_forward": "1",
        "net/ipv4/conf/eth0/rp_filter": "2",
        "net/ipv4/conf/vx-bridge/rp_filter": "2",
        "net/ipv4/conf/vx-bridge/promote_secondaries": "1",
    }
    return ActualState(
        links={link.name: link for link in links},
        rules={4: rules, 6: 0},
        tables=Tables(
            routes={4: routes, 6: frozenset()}, fdb={"vx-bridge": fdb}, neigh={"vx-bridge": neigh}
        ),
        sysctls=settled,
        iptables={4: ipt.FamilyState(), 6: ipt.FamilyState()},
        backend="nf_tables",
    )


def converged_state(**overrides: frozenset[str]) -> ActualState:
    tables = {
        "routes": frozenset({"10.2.0.0/24 via 172.30.0.2 dev vx-bridge onlink "}),
        "fdb": frozenset({"00:00:00:00:00:00 dst 192.168.0.2 self permanent"}),
        "neigh": frozenset({"172.30.0.2 lladdr 0e:54:00:00:00:02 PERMANENT "}),
    }
    tables.update(overrides)
    return actual((ETH0, existing_vx_bridge()), rules=1, **tables)


def non_iptables(plan: Plan) -> list[str]:
    return [str(change) for change in plan.changes if change.kind != "iptables"]


# --- printed lines --------------------------------------------------------------------------


def test_spec_entries_render_exactly_as_iproute2_prints_them() -> None:
    assert e.route_show_line(ROUTE) == "10.2.0.0/24 via 172.30.0.2 dev vx-bridge onlink "
    host = Route(cidr="10.2.0.9/32", gw="172.30.0.2", dev="vx-bridge")
    assert e.route_show_line(host) == "10.2.0.9 via 172.30.0.2 dev vx-bridge onlink "
    six = Route(cidr="fd33::/32", gw="fdb0::2", dev="vx-bridge-6")
    assert (
        e.route_show_line(six)
        == "fd33::/32 via fdb0::2 dev vx-bridge-6 metric 1024 onlink pref medium"
    )
    assert e.fdb_show_line(FDB) == "00:00:00:00:00:00 dst 192.168.0.2 self permanent"
    assert e.neigh_show_line(ARP) == "172.30.0.2 lladdr 0e:54:00:00:00:02 PERMANENT "


@pytest.mark.parametrize(
    ("line", "family", "expected"),
    [
        ("10.2.0.9 via 172.30.0.2 dev vx-bridge onlink ", 4,
         e.RouteEntry(4, "10.2.0.9/32", "172.30.0.2", "vx-bridge")),
        ("fd33::/32 via fdb0::2 dev vx-bridge-6 metric 1024 onlink pref medium", 6,
         e.RouteEntry(6, "fd33::/32", "fdb0::2", "vx-bridge-6")),
        ("unreachable 10.8.0.0/16 ", 4,
         e.RouteEntry(4, "10.8.0.0/16", None, None, False, "unreachable")),
        ("default via 10.0.0.1 dev eth0 metric 5 ", 4,
         e.RouteEntry(4, "0.0.0.0/0", "10.0.0.1", "eth0", False, "unicast", 5)),
    ],
)  # fmt: skip
def test_printed_routes_parse_into_canonical_entries(
    line: str, family: int, expected: e.RouteEntry
) -> None:
    assert e.parse_route_line(line, family) == expected


def test_delete_commands_name_what_the_kernel_needs_to_find_the_entry() -> None:
    stale = e.parse_route_line("default via 10.0.0.1 dev eth0 metric 5 ", 4)
    assert stale is not None
    assert (
        stale.delete_command()
        == "route del unicast 0.0.0.0/0 via 10.0.0.1 dev eth0 metric 5 table 200"
    )
    vni = e.parse_fdb_line("0e:00:00:00:00:01 dst 10.0.0.1 vni 99 self permanent", "vx-bridge")
    assert vni is not None
    assert (
        vni.delete_command() == "fdb del 0e:00:00:00:00:01 dev vx-bridge dst 10.0.0.1 vni 99 self"
    )


def test_multiline_entries_are_joined_before_comparison() -> None:
    text = "10.9.0.0/16 table 200\n\tnexthop via 1.1.1.1 dev eth0 weight 1\n10.8.0.0/16 dev eth0 \n"
    assert e.show_lines(text) == frozenset(
        {"10.9.0.0/16 table 200 nexthop via 1.1.1.1 dev eth0 weight 1", "10.8.0.0/16 dev eth0 "}
    )


# --- line diff ------------------------------------------------------------------------------


def test_entries_spelled_differently_from_the_kernel_are_recognised_as_present() -> None:
    loose = Route(cidr="10.2.0.77/24", gw="172.30.0.2", dev="vx-bridge")  # host bits set
    upper = Arp(ip="172.30.0.2", mac="0E:54:00:00:00:02", dev="vx-bridge")

    routes = compare_lines({e.route_show_line(loose): loose}, {e.route_show_line(ROUTE)})
    arps = compare_lines({e.neigh_show_line(upper): upper}, {e.neigh_show_line(ARP)})

    assert routes.missing, "the printed forms differ"
    assert routes.extra
    route_parse = lambda line: e.parse_route_line(line, 4)  # noqa: E731
    assert reconcile(routes, e.route_entry, route_parse, replaces_slot=True).add == ()
    neigh_parse = lambda line: e.parse_neigh_line(line, "vx-bridge")  # noqa: E731
    found = reconcile(arps, e.neigh_entry, neigh_parse, replaces_slot=True)
    assert (found.add, found.delete) == ((), ())


def test_a_new_next_hop_replaces_the_route_in_place_instead_of_deleting_it() -> None:
    moved = ROUTE.model_copy(update={"gw": "172.30.0.3"})
    lines = compare_lines({e.route_show_line(moved): moved}, {e.route_show_line(ROUTE)})

    found = reconcile(
        lines, e.route_entry, lambda line: e.parse_route_line(line, 4), replaces_slot=True
    )

    assert found.add == (e.RouteEntry(4, "10.2.0.0/24", "172.30.0.3", "vx-bridge"),)
    assert found.delete == ()


def test_an_fdb_entry_moving_to_another_vtep_is_added_then_the_old_one_deleted() -> None:
    moved = FDB.model_copy(update={"ip": "192.168.0.3"})
    lines = compare_lines({e.fdb_show_line(moved): moved}, {e.fdb_show_line(FDB)})

    parse = lambda line: e.parse_fdb_line(line, "vx-bridge")  # noqa: E731
    found = reconcile(lines, e.fdb_entry, parse, replaces_slot=False)

    assert found.add == (e.FdbEntry("vx-bridge", "00:00:00:00:00:00", "192.168.0.3"),)
    assert found.delete == (e.FdbEntry("vx-bridge", "00:00:00:00:00:00", "192.168.0.2"),)


def test_unchanged_tables_cost_no_parsing() -> None:
    lines = compare_lines({e.route_show_line(ROUTE): ROUTE}, {e.route_show_line(ROUTE)})

    def refuse(_: object) -> e.RouteEntry:
        raise AssertionError("nothing should be parsed")

    assert reconcile(lines, refuse, refuse, replaces_slot=True).add == ()


# --- rendering across passes ----------------------------------------------------------------


def test_rendering_reuses_the_previous_pass_and_patches_changed_entries() -> None:
    routes = tuple(
        Route(cidr=f"10.{i}.0.0/16", gw="172.30.0.2", dev="vx-bridge") for i in range(64)
    )
    first = render(routes, e.route_show_line)
    assert render(routes, e.route_show_line, first) is first

    changed = list(routes)
    changed[5] = routes[5].model_copy(update={"gw": "172.30.0.9"})
    patched = render(tuple(changed), e.route_show_line, first)

    fresh = render(tuple(changed), e.route_show_line)
    assert patched.lines == fresh.lines
    assert patched.by_dev == fresh.by_dev
    assert first.by_dev["vx-bridge"][e.route_show_line(routes[5])] is routes[5], "not modified"


def test_duplicate_entries_are_rendered_once() -> None:
    rendered = render((ROUTE, ROUTE), e.route_show_line)
    assert not rendered.distinct
    assert list(rendered.by_dev["vx-bridge"]) == [e.route_show_line(ROUTE)]


# --- the plan -------------------------------------------------------------------------------


def test_fresh_node_plan_creates_devices_first_and_routes_after_their_next_hops() -> None:
    plan = make_plan(SPEC, actual(), TOOLS, REF)

    assert non_iptables(plan) == [
        "create link vx-bridge vxlan id 54 dstport 4876 local 192.168.0.1 dev eth0"
        " address 0e:54:00:00:00:01 mtu 1450",
        "set net.ipv4.conf.vx-bridge.rp_filter = 2",
        "set net.ipv4.conf.vx-bridge.promote_secondaries = 1",
        "create addr 172.30.0.1/16 dev vx-bridge",
        "replace neigh 172.30.0.2 lladdr 0e:54:00:00:00:02 dev vx-bridge",
        "create fdb 00:00:00:00:00:00 dev vx-bridge dst 192.168.0.2",
        "replace route 10.2.0.0/24 via 172.30.0.2 dev vx-bridge table 200",
        "create rule from all lookup 200 pref 200 (IPv4)",
    ]
    kinds = [change.kind for change in plan.changes]
    assert kinds.index("link") < kinds.index("address") < kinds.index("neighbour")
    assert kinds.index("iptables") < kinds.index("route")
    assert kinds.index("fdb") < kinds.index("route") < kinds.index("rule")


def test_converged_node_plans_nothing() -> None:
    chains = ipt.converged_state(ipt.desired_chains(4, SPEC, {"vx-bridge": 1450}))
    state = replace(converged_state(), iptables={4: chains, 6: ipt.FamilyState()})

    assert make_plan(SPEC, state, TOOLS, REF).changes == ()


def test_stale_entries_are_removed_only_after_everything_new_is_in_place() -> None:
    stale = "10.3.0.0/24 via 172.30.0.3 dev vx-bridge onlink "
    routes = frozenset({stale})
    moved = SPEC.model_copy(update={"routes": (ROUTE.model_copy(update={"cidr": "10.4.0.0/24"}),)})

    plan = make_plan(moved, converged_state(routes=routes), TOOLS, REF)

    assert non_iptables(plan) == [
        "replace route 10.4.0.0/24 via 172.30.0.2 dev vx-bridge table 200",
        "delete route 10.3.0.0/24 via 172.30.0.3 dev vx-bridge table 200",
    ]
    assert plan.stages[-1][0].changes[0].action == "delete"


def test_recreated_device_gets_all_its_entries_back_in_the_same_plan() -> None:
    state = converged_state()
    recreate = actual(
        (ETH0, existing_vx_bridge(vni=99)),
        rules=1,
        routes=frozenset(state.tables.routes[4]),
        fdb=frozenset(state.tables.fdb["vx-bridge"]),
        neigh=frozenset(state.tables.neigh["vx-bridge"]),
    )

    plan = make_plan(SPEC, recreate, TOOLS, REF)

    assert [str(c) for c in plan.changes if c.kind in ("link", "route", "fdb", "neighbour")] == [
        "delete link vx-bridge",
        "recreate link vx-bridge vxlan id 54 dstport 4876 local 192.168.0.1 dev eth0"
        " address 0e:54:00:00:00:01 mtu 1450",
        "replace neigh 172.30.0.2 lladdr 0e:54:00:00:00:02 dev vx-bridge",
        "create fdb 00:00:00:00:00:00 dev vx-bridge dst 192.168.0.2",
        "replace route 10.2.0.0/24 via 172.30.0.2 dev vx-bridge table 200",
    ]


def test_a_foreign_device_with_our_name_is_neither_used_nor_deleted() -> None:
    squatter = Link("vx-bridge", 9, "bridge", 1500, "02:00:00:00:00:09", True, (), None)

    plan = make_plan(SPEC, actual((ETH0, squatter)), TOOLS, REF)

    assert [str(f) for f in plan.blocked] == [
        "update link vx-bridge: vx-bridge exists and is not a VXLAN device (bridge); left alone"
    ]
    assert not [c for c in plan.changes if c.device == "vx-bridge"]


def test_invalid_entry_is_rejected_with_its_index_in_the_spec() -> None:
    bad = Route(cidr="10.2.0.0/99", gw="172.30.0.2", dev="vx-bridge")
    spec = SPEC.model_copy(update={"routes": (ROUTE, bad)})

    with pytest.raises(InvalidSpecError) as raised:
        make_plan(spec, converged_state(), TOOLS, REF)

    assert [p.field for p in raised.value.problems] == ["spec.routes[1].cidr"]


def test_entry_on_a_device_outside_the_spec_is_rejected() -> None:
    spec = SPEC.model_copy(update={"arps": (ARP.model_copy(update={"dev": "vx-local"}),)})

    with pytest.raises(InvalidSpecError) as raised:
        make_plan(spec, converged_state(), TOOLS, REF)

    assert [str(p) for p in raised.value.problems] == [
        "error: NodeConfig/n1 spec.arps[0].dev: device 'vx-local' is not in spec.devices"
    ]


# --- iptables -------------------------------------------------------------------------------

SAVED = """*nat
:PREROUTING ACCEPT [0:0]
:CLUSTERLINK-PREROUTING - [0:0]
:CLUSTERLINK-POSTROUTING - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A PREROUTING -j CLUSTERLINK-PREROUTING
-A POSTROUTING -j CLUSTERLINK-POSTROUTING
-A CLUSTERLINK-PREROUTING -d 10.99.0.0/16 -j NETMAP --to 10.20.0.0/16
COMMIT
"""


def test_iptables_script_moves_a_pushed_down_hook_and_rewrites_only_changed_chains() -> None:
    state = ipt.parse_save(SAVED)
    desired = ipt.desired_chains(
        4,
        SPEC.model_copy(
            update={
                "iptables": (
                    Iptables(
                        table="nat",
                        chain="PREROUTING",
                        rule="-d 10.99.0.0/16  -j NETMAP --to 10.20.0.0/16",
                    ),
                )
            }
        ),
        {"vx-bridge": 1450},
    )

    scripts = {script.table: script for script in ipt.table_scripts(4, state, desired)}

    assert scripts["nat"].script == (
        "*nat\n-D PREROUTING -j CLUSTERLINK-PREROUTING\n"
        "-I PREROUTING 1 -j CLUSTERLINK-PREROUTING\n"
        "-D POSTROUTING -j CLUSTERLINK-POSTROUTING\n"
        ":CLUSTERLINK-POSTROUTING - [0:0]\n-X CLUSTERLINK-POSTROUTING\nCOMMIT\n"
    )
    assert set(scripts) == {"nat", "filter", "mangle"}
    assert ":CLUSTERLINK-MSS - [0:0]" in scripts["mangle"].script


def test_a_node_with_nothing_to_translate_gets_no_nat_chain() -> None:
    """A nat hook would turn on connection tracking for every forwarded packet."""
    desired = ipt.desired_chains(4, SPEC.model_copy(update={"iptables": ()}), {"vx-bridge": 1450})

    scripts = {script.table: script for script in ipt.table_scripts(4, ipt.FamilyState(), desired)}

    assert {owned.table for owned in desired} == {"filter", "mangle"}
    assert set(scripts) == {"filter", "mangle"}


def test_iptables_chains_of_an_unused_family_are_unhooked_and_removed() -> None:
    scripts = ipt.table_scripts(6, ipt.parse_save(SAVED), ipt.desired_chains(6, SPEC, {}))

    assert [s.script for s in scripts] == [
        "*nat\n-D PREROUTING -j CLUSTERLINK-PREROUTING\n:CLUSTERLINK-PREROUTING - [0:0]\n"
        "-X CLUSTERLINK-PREROUTING\n-D POSTROUTING -j CLUSTERLINK-POSTROUTING\n"
        ":CLUSTERLINK-POSTROUTING - [0:0]\n-X CLUSTERLINK-POSTROUTING\nCOMMIT\n"
    ]


# --- errors ---------------------------------------------------------------------------------


def test_batch_errors_are_attributed_to_their_lines() -> None:
    stderr = (
        'Cannot find device "nodev"\nCommand failed -:2\n'
        "Error: Invalid prefix for given prefix length.\nCommand failed -:4\n"
    )
    result = CommandResult(("ip",), 1, "", stderr)

    assert batch_errors(result, 5) == {
        1: 'Cannot find device "nodev"',
        3: "Error: Invalid prefix for given prefix length.",
    }
    missing = CommandResult(("ip",), 127, "", "ip: not installed")
    assert batch_errors(missing, 2) == {0: "ip: not installed", 1: "ip: not installed"}


def test_two_routes_for_one_destination_are_rejected_but_exact_repeats_are_not() -> None:
    other_gw = ROUTE.model_copy(update={"gw": "172.30.0.3"})
    repeated = SPEC.model_copy(update={"routes": (ROUTE, ROUTE)})
    conflicting = SPEC.model_copy(update={"routes": (ROUTE, other_gw)})

    assert non_iptables(make_plan(repeated, converged_state(), TOOLS, REF)) == []
    with pytest.raises(InvalidSpecError) as raised:
        make_plan(conflicting, converged_state(), TOOLS, REF)

    assert [str(p) for p in raised.value.problems] == [
        "error: NodeConfig/n1 spec.routes[1].cidr: conflicts with spec.routes[0]"
        " (same cidr, different entry)"
    ]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.1.0.0/18", "10.1.0.0/18"),
        ("10.1.6.0/18", "10.1.0.0/18"),
        ("10.1.6.7/32", "10.1.6.7/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("FD33:0:0::1/64", "fd33::/64"),
    ],
)
def test_networks_are_compared_in_the_kernels_spelling(text: str, canonical: str) -> None:
    assert e.canonical_network(text) == canonical


def test_a_device_gone_between_the_reads_of_its_entries_has_none() -> None:
    def done(*argv: str, stdout: str = "", stderr: str = "", code: int = 0) -> CommandResult:
        return CommandResult(argv, code, stdout, stderr)

    gone = 'Cannot find device "vx-bridge"\n'
    fdb = "aa:bb:cc:dd:ee:ff dst 192.168.2.11 self permanent\n"
    results = [
        done("ip", "route"),
        done("ip", "-6", "route"),
        done("bridge", "fdb", stdout=fdb),  # read while the device still existed
        done("ip", "neigh", stderr=gone, code=1),  # deleted just before this read
    ]

    tables = _tables(["vx-bridge"], results)

    assert "vx-bridge" not in tables.fdb
    assert "vx-bridge" not in tables.neigh
