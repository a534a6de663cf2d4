"""Reading the state the agent owns, in one wave of concurrent ``ip``/``bridge`` dumps.

Links and addresses come from ``ip -j -d addr show`` (every link, because a device's MTU and
local address derive from its bound interface). The bulk tables (table 200, FDB and
permanent neighbours of our four devices) are kept as the sets of lines iproute2 prints, for
the line-set diff of :mod:`clusterlink.dataplane.diff`; parsing 40,000 entries into objects
on every resync would cost more than the kernel dump itself. ``read_state`` turns the same
dumps into a ``NodeConfigSpec`` for ``clusterlink agent show``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from clusterlink.api import constants as c
from clusterlink.api.models import Arp, Device, Fdb, Iptables, NodeConfigSpec, Route
from clusterlink.dataplane import entries as e
from clusterlink.dataplane import iptables as ipt
from clusterlink.dataplane.netns import CommandResult, Namespace, run_all

PROC_SYS = "/proc/sys/"
T = TypeVar("T")


class StateReadError(RuntimeError):
    """The kernel state could not be read, so nothing may be changed."""


@dataclass(frozen=True, slots=True)
class Vxlan:
    vni: int
    port: int
    local: str | None
    link: str | None
    learning: bool


@dataclass(frozen=True, slots=True)
class Address:
    family: int
    address: str  # "ip/prefixlen"
    scope: str


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    index: int
    kind: str | None
    mtu: int
    mac: str
    up: bool
    addresses: tuple[Address, ...]
    vxlan: Vxlan | None

    def global_addresses(self, family: int | None = None) -> list[str]:
        return [
            a.address
            for a in self.addresses
            if a.scope == "global" and (family is None or a.family == family)
        ]


@dataclass(frozen=True, slots=True)
class Tables:
    """Printed lines of table 200 (per family) and of the FDB/neighbours of each device."""

    routes: Mapping[int, Set[str]] = field(default_factory=dict)
    fdb: Mapping[str, Set[str]] = field(default_factory=dict)
    neigh: Mapping[str, Set[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActualState:
    links: Mapping[str, Link]
    rules: Mapping[int, int]  # family -> number of "from all lookup 200 pref 200" rules
    tables: Tables
    sysctls: Mapping[str, str]  # key in slash form -> value, for the keys asked for
    iptables: Mapping[int, ipt.FamilyState]
    backend: ipt.Backend


def read_actual(
    ns: Namespace,
    sysctl_keys: Iterable[str] = (),
    *,
    devices: Iterable[str] = c.DEVICE_NAMES,
    iptables_tools: Mapping[int, ipt.Tools] | None = None,
) -> ActualState:
    """Everything the diff needs, for the sysctls of ``sysctl_keys``.

    FDB and neighbours are dumped for ``devices`` only: the entries of a device that is
    not desired go with the device.
    """
    ns.check_exists()
    backend = ipt.detect_backend()
    tools = iptables_tools or {family: ipt.tools(backend, family) for family in (4, 6)}
    keys = sorted(set(sysctl_keys))
    commands: list[tuple[str, ...]] = [
        ns.ip("-j", "-d", "addr", "show"),
        ns.ip("-j", "rule", "show"),
        ns.ip("-j", "-6", "rule", "show"),
        ns.exec(tools[4].save),
        ns.exec(tools[6].save),
    ]
    if keys:
        commands.append(ns.exec("grep", "-H", "", *(PROC_SYS + key for key in keys)))
    wanted = set(devices)
    names: list[str] = [name for name in c.DEVICE_NAMES if name in wanted]
    commands += [ns.ip("route", "show", "table", e.TABLE), ns.ip("-6", *_ROUTES)]
    for name in names:
        commands.append(ns.bridge("fdb", "show", "dev", name))
        commands.append(ns.ip("neigh", "show", "dev", name, "nud", "permanent"))
    results = run_all(commands)
    links_out, rules4, rules6, save4, save6 = results[:5]
    rest = results[5:]
    sysctls: dict[str, str] = {}
    if keys:
        sysctls = _parse_sysctls(rest.pop(0).stdout)
    return ActualState(
        links=_parse_links(_required(links_out)),
        rules={4: _count_rules(_required(rules4)), 6: _count_rules(_required(_ipv6(rules6)))},
        tables=_tables(names, rest),
        sysctls=sysctls,
        iptables={4: _iptables(save4), 6: _iptables(save6)},
        backend=backend,
    )


_ROUTES = ("route", "show", "table", e.TABLE)


def read_links(ns: Namespace) -> dict[str, Link]:
    return _parse_links(_required(run_all([ns.ip("-j", "-d", "addr", "show")])[0]))


def _required(result: CommandResult) -> str:
    if not result.ok:
        raise StateReadError(f"{' '.join(result.argv)}: {result.stderr.strip()}")
    return result.stdout


def _tables(names: list[str], results: list[CommandResult]) -> Tables:
    routes4, routes6, *per_device = results
    routes4, routes6 = _table_or_empty(routes4), _table_or_empty(_ipv6(routes6))
    fdb: dict[str, frozenset[str]] = {}
    neigh: dict[str, frozenset[str]] = {}
    for name, fdb_out, neigh_out in zip(names, per_device[0::2], per_device[1::2], strict=True):
        if any("Cannot find device" in out.stderr for out in (fdb_out, neigh_out)):
            # Gone, before or between the two reads (a teardown racing this read): its
            # entries went with it.
            continue
        fdb[name] = e.show_lines(_required(fdb_out))
        neigh[name] = e.show_lines(_required(neigh_out))
    return Tables(
        routes={4: e.show_lines(_required(routes4)), 6: e.show_lines(_required(routes6))},
        fdb=fdb,
        neigh=neigh,
    )


def _ipv6(result: CommandResult) -> CommandResult:
    """An IPv6 dump on a kernel without IPv6 is empty (writing IPv6 state fails per entry)."""
    if not result.ok and "Address family not supported" in result.stderr:
        return CommandResult(result.argv, 0, "", "")
    return result


def _table_or_empty(result: CommandResult) -> CommandResult:
    """A table that never held a route is reported as an error; it is simply empty."""
    if not result.ok and "FIB table does not exist" in result.stderr:
        return CommandResult(result.argv, 0, "", "")
    return result


def _iptables(result: CommandResult) -> ipt.FamilyState:
    if not result.ok:
        return ipt.FamilyState(error=result.stderr.strip() or f"exit code {result.returncode}")
    return ipt.parse_save(result.stdout)


def _parse_sysctls(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith(PROC_SYS):
            values[path[len(PROC_SYS) :]] = value.strip()
    return values


def _count_rules(text: str) -> int:
    """Our rule, exactly: priority 200, from all, lookup 200 and no other selector."""
    ours = {"priority": c.RULE_PRIORITY, "src": "all", "table": e.TABLE}
    return sum(1 for rule in json.loads(text or "[]") if rule == ours)


def _parse_links(text: str) -> dict[str, Link]:
    links: dict[str, Link] = {}
    for item in json.loads(text or "[]"):
        info: dict[str, Any] = item.get("linkinfo") or {}
        data: dict[str, Any] = info.get("info_data") or {}
        vxlan = None
        if info.get("info_kind") == "vxlan":
            vxlan = Vxlan(
                vni=int(data.get("id", 0)),
                port=int(data.get("port", 0)),
                local=data.get("local") or data.get("local6"),
                link=None if "link_netnsid" in item else data.get("link"),
                learning=bool(data.get("learning", True)),
            )
        addresses = tuple(
            Address(
                6 if a.get("family") == "inet6" else 4,
                f"{a['local']}/{a['prefixlen']}",
                str(a.get("scope", "")),
            )
            for a in item.get("addr_info", ())
            if a.get("family") in ("inet", "inet6") and "local" in a
        )
        links[item["ifname"]] = Link(
            name=item["ifname"],
            index=int(item["ifindex"]),
            kind=info.get("info_kind"),
            mtu=int(item.get("mtu", 0)),
            mac=str(item.get("address", "")).lower(),
            up="UP" in item.get("flags", ()),
            addresses=addresses,
            vxlan=vxlan,
        )
    return links


def read_state(netns: str | None) -> NodeConfigSpec:
    """The owned state of the host (``None``) or of a namespace, as a spec ``apply`` accepts."""
    actual = read_actual(Namespace(netns))
    devices: list[Device] = []
    for name in c.DEVICE_NAMES:
        link = actual.links.get(name)
        if link is None or link.vxlan is None:
            continue
        addresses = link.global_addresses(c.DEVICE_FAMILY[name])
        devices.append(
            Device(
                name=name,
                addr=addresses[0] if addresses else "",
                mac=link.mac,
                bind_dev=link.vxlan.link or "",
                id=link.vxlan.vni,
                port=link.vxlan.port,
            )
        )
    routes = [
        Route(cidr=entry.dst, gw=entry.gw, dev=entry.dev)
        for family, lines in sorted(actual.tables.routes.items())
        for entry in _sorted(_parsed(lines, partial(e.parse_route_line, family=family)))
        if entry.type == "unicast" and entry.gw and entry.dev
    ]
    fdbs = [
        Fdb(ip=entry.dst, mac=entry.mac, dev=name)
        for name, lines in actual.tables.fdb.items()
        for entry in _sorted(_parsed(lines, partial(e.parse_fdb_line, dev=name)))
        if entry.dst and not entry.options
    ]
    arps = [
        Arp(ip=entry.ip, mac=entry.mac, dev=name)
        for name, lines in actual.tables.neigh.items()
        for entry in _sorted(_parsed(lines, partial(e.parse_neigh_line, dev=name)))
        if entry.mac
    ]
    rules = [
        Iptables(table="nat", chain=spec_chain, rule=rule)
        for family in (4, 6)
        for spec_chain, chain in ipt.SPEC_CHAINS.items()
        for rule in actual.iptables[family].table("nat").rules.get(chain, ())
    ]
    return NodeConfigSpec(
        devices=tuple(devices),
        routes=tuple(routes),
        iptables=tuple(rules),
        fdbs=tuple(fdbs),
        arps=tuple(arps),
    )


def _parsed(lines: Iterable[str], parse: Callable[[str], T | None]) -> list[T]:
    return [entry for entry in map(parse, lines) if entry is not None]


def _sorted(entries: list[T]) -> list[T]:
    """Stable output for ``show``: entries in the order of their printed form."""
    return sorted(entries, key=repr)
