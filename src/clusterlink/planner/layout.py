"""One cluster's part of the federation plan: its devices, and what it offers the others.

A :class:`ClusterLayout` depends only on the cluster and its own nodes (plus the device
addresses the planner allocated). What the *other* clusters see of it is captured in two
shared blocks: ``routes`` (the route entries a bridge node elsewhere needs to reach this
cluster, per family) and ``vteps`` (its bridge tunnel endpoints, for the FDB/ARP mesh).
Every node of every other cluster references these blocks instead of copying them, which
is what makes the plan of a federation of thousands of clusters fit in memory.

Upstream's rules (reference §3.3-§3.8) apply unchanged, with these differences:
- a node only gets entries for devices it has (upstream emits routes onto devices a node
  lacks, e.g. IPv6 routes for a node without ``ip6``);
- ``globalCIDRsMap`` also maps CIDRs *inside* a mapped range (per-node pod CIDRs of a P2P
  cluster), and the source side is a 1:1 ``NETMAP`` instead of upstream's ``SNAT`` to the
  single network address of the global range.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from clusterlink.api import constants as c
from clusterlink.api.validation import ClusterCheck, IPNetwork, NodeCheck, parse_network
from clusterlink.planner.entries import DeviceEntry, NeighbourEntry, RouteEntry, RuleEntry


@dataclass(frozen=True, slots=True)
class Vtep:
    """A bridge tunnel endpoint: how other bridge nodes reach ``node`` on ``dev``.

    The three entries every peer needs are built once here and shared by all peers.
    """

    node: str
    flood: NeighbourEntry  # zero MAC: broadcast and unknown frames go to this VTEP
    forward: NeighbourEntry  # the device's MAC is behind this VTEP
    neighbour: NeighbourEntry  # ARP/NDP: the device's address has the device's MAC

    @classmethod
    def of(cls, node: str, underlay: str, device: DeviceEntry) -> Vtep:
        return cls(
            node,
            NeighbourEntry(underlay, c.ZERO_MAC, device.name),
            NeighbourEntry(underlay, device.mac, device.name),
            NeighbourEntry(_address_of(device), device.mac, device.name),
        )


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A device a node needs; the planner allocates its address and MAC."""

    node: str
    name: str
    family: c.Family
    space: IPNetwork
    underlay: str
    bind_dev: str


@dataclass(frozen=True, slots=True)
class ReceiverRole:
    """How a node reaches other clusters.

    ``bridge`` nodes (gateways, P2P nodes) route each remote CIDR straight to the remote
    VTEP on their bridge device; ``internal`` nodes of gateway clusters route everything to
    their gateway's local device (``via``: family -> (gateway address, local device)).
    """

    kind: Literal["bridge", "internal", "none"]
    families: tuple[c.Family, ...]
    via: Mapping[int, tuple[str, str]]


NO_ROLE = ReceiverRole("none", (), {})


@dataclass(frozen=True, eq=False, slots=True)
class ClusterLayout:
    name: str
    network_type: str
    gateway: str | None
    members: tuple[str, ...]
    devices: Mapping[str, tuple[DeviceEntry, ...]]
    routes: Mapping[int, tuple[RouteEntry, ...]]
    route_cidrs: Mapping[int, frozenset[str]]
    vteps: Mapping[int, tuple[Vtep, ...]]
    own_networks: tuple[IPNetwork, ...]
    roles: Mapping[str, ReceiverRole]
    iptables: Mapping[str, tuple[RuleEntry, ...]]
    local_fdbs: Mapping[str, tuple[NeighbourEntry, ...]]
    local_arps: Mapping[str, tuple[NeighbourEntry, ...]]

    def exported_networks(self) -> set[IPNetwork]:
        return {parse_network(cidr) for cidrs in self.route_cidrs.values() for cidr in cidrs}


def elect_gateway(members: list[tuple[str, bool]]) -> str | None:
    """The first node, by name, that holds the gateway role (as upstream)."""
    return next((name for name, is_gateway in sorted(members) if is_gateway), None)


def request_devices(
    cluster: ClusterCheck,
    nodes: Mapping[str, NodeCheck],
    interfaces: Mapping[str, str],
    gateway: str | None,
) -> list[DeviceRequest]:
    """Devices every node of the cluster needs, in a fixed order (local before bridge)."""
    requests: list[DeviceRequest] = []
    for name in sorted(nodes):
        node = nodes[name]
        kinds: list[tuple[str, Mapping[int, IPNetwork]]] = []
        if cluster.network_type == c.NETWORK_TYPE_GATEWAY:
            kinds.append(("local", cluster.local_cidrs))
        if cluster.network_type == c.NETWORK_TYPE_P2P or name == gateway:
            kinds.append(("bridge", cluster.bridge_cidrs))
        for kind, spaces in kinds:
            for family in (4, 6):
                if family in node.addresses and family in spaces:
                    device = c.local_device(family) if kind == "local" else c.bridge_device(family)
                    requests.append(
                        DeviceRequest(
                            name,
                            device,
                            family,
                            spaces[family],
                            node.addresses[family],
                            interfaces[name],
                        )
                    )
    return requests


def map_to_global(text: str, network: IPNetwork, mapping: Mapping[IPNetwork, str]) -> str:
    """The CIDR other clusters route for ``network``, through ``globalCIDRsMap``.

    An exact key keeps upstream's output (the map's value as written); a network inside a
    mapped range is translated by the same offset, as the NETMAP rules translate packets.
    """
    for real, global_text in mapping.items():
        if network == real:
            return global_text
        if network.version == real.version and network.subnet_of(real):  # type: ignore[arg-type]
            target = parse_network(global_text)
            offset = int(network.network_address) - int(real.network_address)
            start = ipaddress.ip_address(int(target.network_address) + offset)
            return f"{start}/{network.prefixlen}"
    return text


def _address_of(device: DeviceEntry) -> str:
    return device.addr.split("/", 1)[0]


def build_layout(
    cluster: ClusterCheck,
    nodes: Mapping[str, NodeCheck],
    gateway: str | None,
    devices: Mapping[str, tuple[DeviceEntry, ...]],
) -> ClusterLayout:
    """Everything about one cluster that the node plans are made of."""
    by_name = {name: {d.name: d for d in devices.get(name, ())} for name in nodes}
    members = tuple(sorted(nodes))
    bridge_nodes = [
        n for n in members if any(d in by_name[n] for d in (c.VX_BRIDGE, c.VX_BRIDGE_6))
    ]
    routes: dict[int, list[RouteEntry]] = {4: [], 6: []}
    vteps: dict[int, list[Vtep]] = {4: [], 6: []}

    def export(cidrs: tuple[tuple[str, IPNetwork], ...], target: str) -> None:
        for text, network in cidrs:
            device = by_name[target].get(c.bridge_device(network.version))
            if device is not None:
                cidr = map_to_global(text, network, cluster.global_map)
                routes[network.version].append(RouteEntry(cidr, _address_of(device), device.name))

    if gateway is not None:
        export(cluster.service_cidrs, gateway)
    if cluster.network_type == c.NETWORK_TYPE_GATEWAY:
        if gateway is not None:
            export(cluster.pod_cidrs, gateway)
    else:
        for name in bridge_nodes:
            export(nodes[name].pod_cidrs, name)
    for name in bridge_nodes:
        for family in (4, 6):
            device = by_name[name].get(c.bridge_device(family))
            if device is not None:
                vteps[family].append(Vtep.of(name, nodes[name].addresses[family], device))
    roles = {name: _role_of(cluster, name, gateway, by_name) for name in members}
    local_fdbs, local_arps = _local_star(members, gateway, roles, by_name, nodes)
    return ClusterLayout(
        name=cluster.ref.name,
        network_type=cluster.network_type,
        gateway=gateway,
        members=members,
        devices={name: devices.get(name, ()) for name in members},
        routes={f: tuple(entries) for f, entries in routes.items() if entries},
        route_cidrs={
            f: frozenset(e.cidr for e in entries) for f, entries in routes.items() if entries
        },
        vteps={f: tuple(entries) for f, entries in vteps.items() if entries},
        own_networks=tuple(n for _, n in cluster.pod_cidrs + cluster.service_cidrs),
        roles=roles,
        iptables={name: _iptables_of(cluster, name, gateway, by_name[name]) for name in members},
        local_fdbs=local_fdbs,
        local_arps=local_arps,
    )


def _role_of(
    cluster: ClusterCheck,
    name: str,
    gateway: str | None,
    devices: Mapping[str, Mapping[str, DeviceEntry]],
) -> ReceiverRole:
    own = devices[name]
    if cluster.network_type == c.NETWORK_TYPE_P2P or name == gateway:
        families = tuple(f for f in (4, 6) if c.bridge_device(f) in own)
        return ReceiverRole("bridge", families, {})  # type: ignore[arg-type]
    if gateway is None:
        return NO_ROLE
    via: dict[int, tuple[str, str]] = {}
    for family in (4, 6):
        local = c.local_device(family)
        if local in own and local in devices[gateway]:
            via[family] = (_address_of(devices[gateway][local]), local)
    return ReceiverRole("internal", tuple(via), via)  # type: ignore[arg-type]


def _local_star(
    members: tuple[str, ...],
    gateway: str | None,
    roles: Mapping[str, ReceiverRole],
    devices: Mapping[str, Mapping[str, DeviceEntry]],
    nodes: Mapping[str, NodeCheck],
) -> tuple[dict[str, tuple[NeighbourEntry, ...]], dict[str, tuple[NeighbourEntry, ...]]]:
    """FDB/ARP entries of the ``vx-local`` star between a gateway and its internal nodes."""
    fdbs: dict[str, list[NeighbourEntry]] = {name: [] for name in members}
    arps: dict[str, list[NeighbourEntry]] = {name: [] for name in members}

    def describe(owner: str, peer: str, family: int) -> None:
        device = devices[peer][c.local_device(family)]  # type: ignore[arg-type]
        underlay = nodes[peer].addresses[family]
        fdbs[owner] += [
            NeighbourEntry(underlay, c.ZERO_MAC, device.name),
            NeighbourEntry(underlay, device.mac, device.name),
        ]
        arps[owner].append(NeighbourEntry(_address_of(device), device.mac, device.name))

    if gateway is not None:
        for name in members:
            role = roles[name]
            if role.kind != "internal":
                continue
            for family in role.via:
                describe(name, gateway, family)
                describe(gateway, name, family)
    return (
        {name: tuple(entries) for name, entries in fdbs.items()},
        {name: tuple(entries) for name, entries in arps.items()},
    )


def _iptables_of(
    cluster: ClusterCheck, name: str, gateway: str | None, own: Mapping[str, DeviceEntry]
) -> tuple[RuleEntry, ...]:
    rules: list[RuleEntry] = []
    if cluster.network_type == c.NETWORK_TYPE_GATEWAY and name == gateway:
        for family in (4, 6):
            bridge = c.bridge_device(family)
            if bridge in own and family in cluster.local_cidrs:
                local_space = cluster.local_cidrs[family]
                bridge_space = cluster.bridge_cidrs[family]
                rules += [
                    RuleEntry("nat", "POSTROUTING", f"-s {local_space} -o {bridge} -j MASQUERADE"),
                    RuleEntry("nat", "POSTROUTING", f"-s {bridge_space} -j MASQUERADE"),
                ]
    for real, global_text in sorted(cluster.global_map.items(), key=lambda item: str(item[0])):
        bridge = c.bridge_device(real.version)
        if bridge not in own:
            continue
        mapped = parse_network(global_text)
        rules += [
            RuleEntry("nat", "PREROUTING", f"-d {mapped} -i {bridge} -j NETMAP --to {real}"),
            RuleEntry("nat", "POSTROUTING", f"-s {real} -o {bridge} -j NETMAP --to {mapped}"),
        ]
    return tuple(rules)
