"""Semantic checks of objects that parsed: every address, CIDR and cross-field rule.

Each ``check_*`` function returns the usable part of an object together with the problems
found, so one bad entry costs only that entry: a malformed pod CIDR drops that CIDR, not
the cluster. Only what makes an object unusable as a whole (no tunnel address space, no
interface) makes it unusable, and that is reported as an error naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from clusterlink.api import constants as c
from clusterlink.api.errors import ObjectRef, Problem, Severity
from clusterlink.api.models import Arp, Cluster, ClusterNode, Fdb, NodeConfigSpec

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_FAMILIES_OF: dict[str, frozenset[c.Family]] = {
    "all": frozenset((4, 6)),
    "ipv4": frozenset((4,)),
    "ipv6": frozenset((6,)),
}
# Smallest tunnel space that still has room for device addresses (host bits >= 2).
_MAX_TUNNEL_PREFIX: dict[int, int] = {4: 30, 6: 126}


def families_of(ip_family: str) -> frozenset[c.Family]:
    """IP families a cluster's ``ipFamily`` enables (none for an unknown value)."""
    return _FAMILIES_OF.get(ip_family, frozenset())


def parse_network(text: str) -> IPNetwork:
    """A CIDR as upstream reads it: host bits allowed (``10.0.0.5/24`` is ``10.0.0.0/24``)."""
    if "/" not in text:
        raise ValueError(f"{text!r} is not a CIDR (no prefix length)")
    return ipaddress.ip_network(text.strip(), strict=False)


def parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.strip())


def networks_overlap(a: IPNetwork, b: IPNetwork) -> bool:
    """True when one network contains the other (aligned prefixes cannot partially overlap)."""
    return a.version == b.version and (a.subnet_of(b) or b.subnet_of(a))  # type: ignore[arg-type]


@dataclass
class _Collector:
    """Accumulates problems about one object."""

    ref: ObjectRef
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(self.ref, path, message, severity))


def _check_cidr_list(
    values: Sequence[str],
    path: str,
    out: _Collector,
    *,
    families: frozenset[c.Family] = frozenset((4, 6)),
) -> tuple[tuple[str, IPNetwork], ...]:
    """Valid, distinct, non-overlapping CIDRs of ``values`` (text kept as written)."""
    kept: list[tuple[str, IPNetwork]] = []
    for index, text in enumerate(values):
        where = f"{path}[{index}]"
        try:
            network = parse_network(text)
        except ValueError as exc:
            out.add(where, f"invalid CIDR {text!r}: {exc}; entry ignored")
            continue
        if network.version not in families:
            continue  # the family filter of upstream: silently not linked, by design
        clash = next((k for k in kept if networks_overlap(k[1], network)), None)
        if clash is not None:
            kind = "duplicates" if clash[1] == network else "overlaps"
            severity: Severity = "warning" if clash[1] == network else "error"
            out.add(where, f"{text} {kind} {clash[0]} in the same list; entry ignored", severity)
            continue
        kept.append((text, network))
    return tuple(kept)


def _check_tunnel_cidr(text: str, family: c.Family, path: str, out: _Collector) -> IPNetwork | None:
    try:
        network = parse_network(text)
    except ValueError as exc:
        out.add(path, f"invalid CIDR {text!r}: {exc}")
        return None
    if network.version != family:
        out.add(path, f"{text} is not an IPv{family} CIDR")
        return None
    if network.prefixlen > _MAX_TUNNEL_PREFIX[family]:
        out.add(path, f"{text} leaves no room for device addresses")
        return None
    return network


@dataclass(frozen=True)
class ClusterCheck:
    """What the planner may use of one Cluster, and what is wrong with it.

    ``linked`` is false when the cluster opted out (no ``clusterLinkOptions`` or
    ``enable: false``); ``usable`` is false when it opted in but cannot be linked.
    """

    ref: ObjectRef
    linked: bool
    usable: bool
    network_type: str
    families: frozenset[c.Family]
    local_cidrs: dict[int, IPNetwork]
    bridge_cidrs: dict[int, IPNetwork]
    pod_cidrs: tuple[tuple[str, IPNetwork], ...]
    service_cidrs: tuple[tuple[str, IPNetwork], ...]
    global_map: dict[IPNetwork, str]
    problems: tuple[Problem, ...]

    def map_to_global(self, text: str, network: IPNetwork) -> str:
        """The CIDR other clusters route for ``network`` (its ``globalCIDRsMap`` image)."""
        return self.global_map.get(network, text)


def check_cluster(cluster: Cluster) -> ClusterCheck:
    ref = ObjectRef("Cluster", cluster.name)
    out = _Collector(ref)
    options = cluster.spec.cluster_link_options
    if options is None or not options.enable:
        return ClusterCheck(ref, False, False, "", frozenset(), {}, {}, (), (), {}, ())
    opts = "spec.clusterLinkOptions"
    families = families_of(options.ip_family)
    local: dict[int, IPNetwork] = {}
    bridge: dict[int, IPNetwork] = {}
    for family in sorted(families):
        key = "ip" if family == 4 else "ip6"
        bridge_net = _check_tunnel_cidr(
            getattr(options.bridge_cidrs, key), family, f"{opts}.bridgeCIDRs.{key}", out
        )
        if bridge_net is not None:
            bridge[family] = bridge_net
        if options.network_type == c.NETWORK_TYPE_GATEWAY:
            local_net = _check_tunnel_cidr(
                getattr(options.local_cidrs, key), family, f"{opts}.localCIDRs.{key}", out
            )
            if local_net is not None:
                local[family] = local_net
            if local_net and bridge_net and networks_overlap(local_net, bridge_net):
                out.add(f"{opts}.localCIDRs.{key}", f"overlaps bridgeCIDRs.{key} {bridge_net}")
                local.pop(family)
    usable = not out.problems
    status = "status.clusterLinkStatus"
    pods = _check_cidr_list(
        cluster.status.cluster_link_status.pod_cidrs, f"{status}.podCIDRs", out, families=families
    )
    services = _check_cidr_list(
        cluster.status.cluster_link_status.service_cidrs,
        f"{status}.serviceCIDRs",
        out,
        families=families,
    )
    for key, override in (("podCIDRs", options.pod_cidrs), ("serviceCIDRs", options.service_cidrs)):
        if override:
            _check_cidr_list(override, f"{opts}.{key}", out, families=frozenset((4, 6)))
    if not pods:
        out.add(
            f"{status}.podCIDRs",
            "no pod CIDR of the cluster's IP family is known yet: other clusters cannot "
            "check routes against them (the controller-manager reports them, or set "
            f"{opts}.podCIDRs)",
            "warning",
        )
    for text, network in pods + services:
        for space in (*local.values(), *bridge.values()):
            if networks_overlap(space, network):
                out.add(status, f"{text} overlaps the tunnel address space {space}", "warning")
    global_map = _check_global_map(options.global_cidrs_map, pods + services, out)
    return ClusterCheck(
        ref,
        True,
        usable,
        options.network_type,
        families,
        local,
        bridge,
        pods,
        services,
        global_map,
        tuple(out.problems),
    )


def _check_global_map(
    mapping: dict[str, str], own: Iterable[tuple[str, IPNetwork]], out: _Collector
) -> dict[IPNetwork, str]:
    """Valid ``real CIDR -> global CIDR`` entries, keyed by the parsed real network.

    Upstream matches keys as exact strings, so ``10.233.0.0/16`` does not map
    ``10.233.0.0/16 `` or ``10.233.0.1/16``; here keys match by network.
    """
    own_networks = {network for _, network in own}
    result: dict[IPNetwork, str] = {}
    for real_text, global_text in sorted(mapping.items()):
        where = f"spec.clusterLinkOptions.globalCIDRsMap[{real_text}]"
        try:
            real = parse_network(real_text)
            mapped = parse_network(global_text)
        except ValueError as exc:
            out.add(where, f"invalid CIDR: {exc}; entry ignored")
            continue
        if real.version != mapped.version:
            out.add(where, f"maps IPv{real.version} to IPv{mapped.version}; entry ignored")
            continue
        if real.prefixlen != mapped.prefixlen:
            out.add(
                where,
                f"{real_text} and {global_text} differ in size; a 1:1 map needs equal "
                "prefix lengths; entry ignored",
            )
            continue
        if real not in own_networks:
            out.add(where, "matches none of the cluster's pod or service CIDRs", "warning")
        result[real] = global_text
    return result


@dataclass(frozen=True)
class NodeCheck:
    """What the planner may use of one ClusterNode, and what is wrong with it.

    ``held`` marks a node whose input is broken: it gets no new configuration, and the
    one it has must be kept as it is rather than removed.
    """

    ref: ObjectRef
    usable: bool
    held: bool
    addresses: dict[int, str]
    pod_cidrs: tuple[tuple[str, IPNetwork], ...]
    problems: tuple[Problem, ...]


def check_cluster_node(node: ClusterNode, cluster: ClusterCheck | None) -> NodeCheck:
    ref = ObjectRef("ClusterNode", node.name)
    out = _Collector(ref)
    spec = node.spec

    def unusable(held: bool) -> NodeCheck:
        return NodeCheck(ref, False, held, {}, (), tuple(out.problems))

    if not spec.cluster_name:
        out.add("spec.clusterName", "required")
        return unusable(True)
    if cluster is None:
        out.add("spec.clusterName", f"cluster {spec.cluster_name!r} does not exist", "warning")
        return unusable(False)
    if not cluster.linked:
        return unusable(False)
    if not cluster.usable:
        out.add("spec.clusterName", f"cluster {spec.cluster_name!r} cannot be linked (see it)")
        return unusable(True)
    if not spec.interface_name:
        out.add("spec.interfaceName", "required: the NIC that carries the tunnels")
        return unusable(True)
    addresses: dict[int, str] = {}
    for family, key, text in ((4, "ip", spec.ip), (6, "ip6", spec.ip6)):
        if not text:
            continue
        try:
            address = parse_address(text)
        except ValueError:
            out.add(f"spec.{key}", f"invalid IP address {text!r}")
            continue
        if address.version != family:
            out.add(f"spec.{key}", f"{text} is not an IPv{family} address")
            continue
        if family in cluster.families:
            addresses[family] = text
    missing = [f for f in sorted(cluster.families) if f not in addresses]
    if not addresses:
        keys = " or ".join("spec.ip" if f == 4 else "spec.ip6" for f in sorted(cluster.families))
        out.add(keys, "no usable underlay address for the cluster's IP family")
        return unusable(True)
    for family in missing:
        key = "spec.ip" if family == 4 else "spec.ip6"
        out.add(
            key, f"missing: the node is linked over IPv{6 if family == 4 else 4} only", "warning"
        )
    pods = _check_cidr_list(spec.pod_cidrs, "spec.podCIDRs", out, families=cluster.families)
    return NodeCheck(ref, True, False, addresses, pods, tuple(out.problems))


def check_node_config_spec(spec: NodeConfigSpec, ref: ObjectRef) -> list[Problem]:
    """Problems that make a NodeConfig spec unsafe to apply (every one is an error).

    The agent rejects a spec with any of these before touching the host.
    """
    out = _Collector(ref)
    device_families: dict[str, int] = {}
    family: int
    for i, device in enumerate(spec.devices):
        where = f"spec.devices[{i}]"
        if device.name not in c.DEVICE_FAMILY:
            out.add(f"{where}.name", f"unknown device {device.name!r}")
            continue
        family = c.DEVICE_FAMILY[device.name]
        if device.name in device_families:
            out.add(f"{where}.name", f"device {device.name} listed twice")
        device_families[device.name] = family
        try:
            interface = ipaddress.ip_interface(device.addr)
            if interface.version != family or "/" not in device.addr:
                out.add(f"{where}.addr", f"{device.addr} is not an IPv{family} address/prefix")
        except ValueError:
            out.add(f"{where}.addr", f"invalid address {device.addr!r}")
        if not _MAC.match(device.mac.lower()) or device.mac == c.ZERO_MAC:
            out.add(f"{where}.mac", f"invalid MAC {device.mac!r}")
        if not device.bind_dev or not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,15}", device.bind_dev):
            out.add(f"{where}.bindDev", f"invalid interface name {device.bind_dev!r}")
        if not 0 < device.id < 2**24:
            out.add(f"{where}.id", f"VNI {device.id} out of range")
        if not 0 < device.port < 2**16:
            out.add(f"{where}.port", f"port {device.port} out of range")
    for i, route in enumerate(spec.routes):
        where = f"spec.routes[{i}]"
        family = _check_dev(route.dev, device_families, f"{where}.dev", out)
        try:
            if parse_network(route.cidr).version != family and family:
                out.add(f"{where}.cidr", f"{route.cidr} does not match {route.dev}'s family")
        except ValueError:
            out.add(f"{where}.cidr", f"invalid CIDR {route.cidr!r}")
        _check_ip(route.gw, family, f"{where}.gw", out)
    neighbours: list[tuple[str, Fdb | Arp]] = [
        *((f"spec.fdbs[{i}]", entry) for i, entry in enumerate(spec.fdbs)),
        *((f"spec.arps[{i}]", entry) for i, entry in enumerate(spec.arps)),
    ]
    for where, entry in neighbours:
        family = _check_dev(entry.dev, device_families, f"{where}.dev", out)
        # FDB destinations are underlay addresses of the device's family too.
        _check_ip(entry.ip, family, f"{where}.ip", out)
        if not _MAC.match(entry.mac.lower()):
            out.add(f"{where}.mac", f"invalid MAC {entry.mac!r}")
    for i, rule in enumerate(spec.iptables):
        where = f"spec.iptables[{i}]"
        if rule.table != "nat":
            out.add(f"{where}.table", f"only the nat table is managed, not {rule.table!r}")
        if rule.chain not in ("PREROUTING", "POSTROUTING"):
            out.add(
                f"{where}.chain", f"chain must be PREROUTING or POSTROUTING, not {rule.chain!r}"
            )
        if not rule.rule.strip() or not rule.rule.isprintable() or rule.rule.lstrip()[:1] != "-":
            out.add(f"{where}.rule", f"not an iptables rule specification: {rule.rule!r}")
    return out.problems


def _check_dev(name: str, devices: dict[str, int], path: str, out: _Collector) -> int:
    if name not in c.DEVICE_FAMILY:
        out.add(path, f"unknown device {name!r}")
        return 0
    return c.DEVICE_FAMILY[name]


def _check_ip(text: str, family: int, path: str, out: _Collector) -> None:
    try:
        address = parse_address(text)
    except ValueError:
        out.add(path, f"invalid IP address {text!r}")
        return
    if family and address.version != family:
        out.add(path, f"{text} is not an IPv{family} address")
