"""Which NIC carries the tunnels, and its addresses: the agent's auto-detection.

As upstream: a per-node override (``nicNodeNames``), else the cluster's ``defaultNICName``,
and for ``*`` the interface that owns the source address the kernel picks to reach the
``can-reach=<IP>`` target (a UDP ``connect`` sends no packet). Unlike upstream, the
interface name is matched exactly (upstream uses it as an unanchored regular expression,
so ``eth0`` also matches ``veth0abc``), and every unsupported method is reported clearly.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from pyroute2 import IPRoute, NetNS

from clusterlink.api.constants import AUTO_NIC
from clusterlink.api.models import ClusterLinkOptions

DEFAULT_METHOD = "can-reach=8.8.8.8"


class DetectionError(RuntimeError):
    """The interface or its addresses cannot be determined; the message says why."""


@dataclass(frozen=True, slots=True)
class Detected:
    interface: str
    ip: str
    ip6: str


def chosen_interface(options: ClusterLinkOptions, node_name: str) -> str:
    """The configured interface name for this node, or ``*`` for auto-detection."""
    for override in options.nic_node_names:
        if node_name in override.node_name:
            return override.interface_name
    return options.default_nic_name or AUTO_NIC


def _addresses(netns: str | None) -> dict[str, list[tuple[int, str, int]]]:
    """name -> [(family, address, scope)] of every interface."""
    ipr = NetNS(netns) if netns else IPRoute()
    try:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        result: dict[str, list[tuple[int, str, int]]] = {name: [] for name in names.values()}
        for entry in ipr.get_addr():
            name = names.get(entry["index"])
            if name is not None:
                family = 4 if entry["family"] == socket.AF_INET else 6
                result[name].append((family, entry.get_attr("IFA_ADDRESS"), entry["scope"]))
        return result
    finally:
        ipr.close()


def _source_for(target: str) -> str:
    """The local address the kernel would use toward ``target`` (no packet is sent)."""
    address = ipaddress.ip_address(target)
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((target, 80))
        return str(probe.getsockname()[0])


def detect(options: ClusterLinkOptions, node_name: str, netns: str | None = None) -> Detected:
    """Interface and global addresses (IPv4, IPv6; "" when it has none) of this node."""
    addresses = _addresses(netns)
    interface = chosen_interface(options, node_name)
    if interface == AUTO_NIC:
        method = options.autodetection_method or DEFAULT_METHOD
        if not method.startswith("can-reach="):
            raise DetectionError(
                f"autodetectionMethod {method!r} is not supported; use can-reach=<IP>"
            )
        if netns:
            raise DetectionError("can-reach detection runs inside the node's namespace only")
        try:
            source = _source_for(method.removeprefix("can-reach="))
        except (OSError, ValueError) as exc:
            raise DetectionError(f"{method}: {exc}") from None
        interface = next(
            (
                name
                for name, entries in addresses.items()
                if any(a == source for _, a, _ in entries)
            ),
            "",
        )
        if not interface:
            raise DetectionError(f"{method}: no interface owns the source address {source}")
    if interface not in addresses:
        raise DetectionError(f"interface {interface!r} does not exist on this node")
    global_scope = 0
    found = {4: "", 6: ""}
    for family, address, scope in addresses[interface]:
        if scope == global_scope and not found[family]:
            found[family] = address
    return Detected(interface, found[4], found[6])
