"""Why a check failed: the path its packets should take, hop by hop, from the NodeConfigs.

For a failed (source, destination) the source node's NodeConfig route for the target
names the device and gateway; the gateway's owner (the node whose VXLAN device holds that
address) is the next hop, until the destination node. The reply's path is walked the same
way. Each hop carries its agent's report (``Applied`` for the current generation or not)
and, when the node's host floater looked it up, the kernel's actual route, so a failure
where every agent reports success still points at the node whose routes drifted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clusterlink.api.constants import LABEL_CLUSTER
from clusterlink.doctor.matrix import Check
from clusterlink.floater.outcome import RouteLookup

MAX_HOPS = 6


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


@dataclass(frozen=True, slots=True)
class Hop:
    node: str  # the NodeConfig name, <cluster>-<node>
    applied: bool
    state: str  # the agent's report, in words
    cidr: str = ""  # the NodeConfig route taken; "" when none matches
    gateway: str = ""
    dev: str = ""
    note: str = ""
    kernel: RouteLookup | None = None

    @property
    def drifted(self) -> bool:
        """The kernel routes the address elsewhere than the NodeConfig says."""
        if self.kernel is None or not self.cidr:
            return False
        if self.kernel.error or self.kernel.dev != self.dev:
            return True
        return _canonical(self.kernel.gateway) != _canonical(self.gateway)

    def describe(self) -> str:
        text = f"{self.node} [{self.state}]"
        if self.cidr:
            text += f" route {self.cidr} via {self.gateway} dev {self.dev}"
        if self.note:
            text += f" ({self.note})"
        if self.drifted and self.kernel is not None:
            actual = self.kernel.error or f"via {self.kernel.gateway or '-'} dev {self.kernel.dev}"
            text += f" — kernel: {actual}"
        return text


@dataclass(frozen=True, slots=True)
class Explanation:
    check: Check
    protocols: tuple[str, ...]
    forward: tuple[Hop, ...]
    reply: tuple[Hop, ...]
    verdict: str
    suspect: str  # the node to look at first; "" when unknown

    def to_document(self) -> dict[str, Any]:
        return {
            "source": self.check.source.name,
            "destination": self.check.destination.name,
            "address": self.check.address,
            "family": f"ipv{self.check.family}",
            "network": self.check.network,
            "protocols": list(self.protocols),
            "path": [hop.describe() for hop in self.forward],
            "replyPath": [hop.describe() for hop in self.reply],
            "verdict": self.verdict,
            "suspect": self.suspect,
        }


def agent_state(config: Mapping[str, Any] | None) -> tuple[bool, str]:
    if config is None:
        return False, "no NodeConfig"
    status = config.get("status") or {}
    condition = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Applied"), None
    )
    if condition is None:
        return False, "not applied yet"
    if status.get("observedGeneration") != config["metadata"].get("generation"):
        return False, "applying a newer generation"
    if condition.get("status") != "True":
        return False, f"apply failed: {condition.get('message') or condition.get('reason')}"
    return True, "Applied"


def _route_for(config: Mapping[str, Any], address: str) -> dict[str, Any] | None:
    ip = ipaddress.ip_address(address)
    best: tuple[int, dict[str, Any]] | None = None
    for route in (config.get("spec") or {}).get("routes") or []:
        network = ipaddress.ip_network(route["cidr"], strict=False)
        if network.version != ip.version or ip not in network:
            continue
        if best is None or network.prefixlen > best[0]:
            best = (network.prefixlen, route)
    return best[1] if best else None


def _cluster_of(config: Mapping[str, Any] | None) -> str:
    labels = ((config or {}).get("metadata") or {}).get("labels") or {}
    return str(labels.get(LABEL_CLUSTER, ""))


def device_owners(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Tunnel device address -> the node that holds it."""
    owners: dict[str, str] = {}
    for name, config in configs.items():
        for device in (config.get("spec") or {}).get("devices") or []:
            owners[str(ipaddress.ip_interface(device["addr"]).ip)] = name
    return owners


def walk(
    configs: Mapping[str, Mapping[str, Any]],
    start: str,
    address: str,
    destination: str,
    kernel: Mapping[tuple[str, str], RouteLookup],
) -> tuple[Hop, ...]:
    """The hops from node ``start`` to the node ``destination`` that owns ``address``."""
    owners = device_owners(configs)
    hops: list[Hop] = []
    current = start
    for _ in range(MAX_HOPS):
        config = configs.get(current)
        applied, state = agent_state(config)
        if current == destination:
            hops.append(Hop(current, applied, state, note="delivers to the target"))
            break
        route = _route_for(config, address) if config is not None else None
        lookup = kernel.get((current, address))
        if route is None:
            if _cluster_of(config) and _cluster_of(config) == _cluster_of(configs.get(destination)):
                note = "its cluster's own network delivers it"
                hops.append(Hop(current, applied, state, note=note))
                current = destination
                continue
            note = "no ClusterLink route: the underlay carries it"
            hops.append(Hop(current, applied, state, note=note, kernel=lookup))
            break
        gateway, dev = str(route.get("gw", "")), str(route.get("dev", ""))
        following = owners.get(gateway)
        note = "" if following else f"no node holds gateway {gateway}"
        hops.append(Hop(current, applied, state, route["cidr"], gateway, dev, note, lookup))
        if following is None or any(h.node == following for h in hops):
            break
        current = following
    return tuple(hops)


def verdict_for(forward: Sequence[Hop], reply: Sequence[Hop]) -> tuple[str, str]:
    """(what is wrong, which node to look at first)."""
    hops = [*forward, *reply]
    for hop in hops:
        if hop.drifted:
            return (
                f"{hop.node} reports {hop.state} but its kernel does not route as its NodeConfig "
                f"says ({hop.describe()}): the host drifted from its NodeConfig",
                hop.node,
            )
    for hop in hops:
        if not hop.applied:
            return f"{hop.node} has not applied its NodeConfig: {hop.state}", hop.node
    for path in (forward, reply):
        last = path[-1] if path else None
        if last is not None and last.note.startswith("no node holds"):
            return f"{last.node}: {last.note} (stale route?)", last.node
    if forward and forward[0].cidr:
        names = ", ".join(dict.fromkeys(h.node for h in hops))
        return (
            f"every node on the path ({names}) reports its NodeConfig applied, yet traffic "
            f"fails: look first at {forward[0].node}, route {forward[0].cidr} dev "
            f"{forward[0].dev}",
            forward[0].node,
        )
    return (
        "no ClusterLink route covers this address: it travels over the nodes' underlay "
        "(check the underlay routing and firewalls between the nodes)",
        "",
    )


def explain(
    check: Check,
    protocols: tuple[str, ...],
    reply_address: str,
    configs: Mapping[str, Mapping[str, Any]],
    kernel: Mapping[tuple[str, str], RouteLookup],
) -> Explanation:
    source, destination = check.source.node_config, check.destination.node_config
    forward = walk(configs, source, check.address, destination, kernel)
    reply = walk(configs, destination, reply_address, source, kernel)
    verdict, suspect = verdict_for(forward, reply)
    return Explanation(check, protocols, forward, reply, verdict, suspect)
