"""Every name and address of a lab, computed from its size: pure, so it can be tested
and so ``status``, ``exec`` and ``down`` find the same things ``up`` created.

Plan (cluster ``i``, node ``j``, pod ``k``, all counted from 1):
- underlay of cluster ``i``: ``192.168.i.0/24`` and ``fd10:i::/64``; the router is ``.1``,
  node ``j`` is ``.(10+j)``; each cluster is its own L3 network, routed by the router;
- pods of cluster ``i``: ``10.i.0.0/16`` and ``fd33:i::/32``; node ``j`` owns
  ``10.i.j.0/24`` and ``fd33:i:j::/64``; pod ``k`` is ``.(10+k)`` in its node's range;
- services of cluster ``i``: ``10.(100+i).0.0/16`` and ``fd96:i::/112`` (reported, not used);
- with ``overlap``, one more cluster reuses cluster1's pod ranges and is joined through
  ``globalCIDRsMap`` to ``10.(50+i).0.0/16`` and ``fd33:<hex(50+i)>::/32``.
Numbers in IPv6 groups are written in hex (node 12 is ``fd10:1::c``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from clusterlink.lab import naming

Mode = Literal["p2p", "gateway", "mixed"]
IPFamilyChoice = Literal["ipv4", "ipv6", "all"]
NetworkType = Literal["p2p", "gateway"]

MODES: tuple[Mode, ...] = ("p2p", "gateway", "mixed")
IP_FAMILIES: tuple[IPFamilyChoice, ...] = ("ipv4", "ipv6", "all")
MAX_CLUSTERS = 20
MAX_NODES = 50
MAX_PODS_PER_NODE = 50
FIRST_HOST = 10
GLOBAL_OFFSET = 50
SERVICE_OFFSET = 100


class LabSpecError(ValueError):
    """A lab size or option out of range; the message names it."""


@dataclass(frozen=True, slots=True)
class LabSpec:
    """What the user asked for with ``kosmosctl lab up``."""

    name: str = "demo"
    clusters: int = 2
    nodes: int = 2
    pods_per_node: int = 1
    mode: Mode = "p2p"
    ip_family: IPFamilyChoice = "all"
    overlap: bool = False
    floaters: bool = True  # a floater in each node's host network and in its first pod

    def __post_init__(self) -> None:
        naming.check_lab_name(self.name)
        for label, value, limit in (
            ("clusters", self.clusters, MAX_CLUSTERS),
            ("nodes", self.nodes, MAX_NODES),
            ("pods-per-node", self.pods_per_node, MAX_PODS_PER_NODE),
        ):
            if not 1 <= value <= limit:
                raise LabSpecError(f"--{label} must be between 1 and {limit}, got {value}")
        if self.mode not in MODES:
            raise LabSpecError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.ip_family not in IP_FAMILIES:
            raise LabSpecError(
                f"--ip-family must be one of {', '.join(IP_FAMILIES)}, got {self.ip_family!r}"
            )

    @property
    def has_ipv4(self) -> bool:
        return self.ip_family in ("ipv4", "all")

    @property
    def has_ipv6(self) -> bool:
        return self.ip_family in ("ipv6", "all")


@dataclass(frozen=True, slots=True)
class PodPlan:
    name: str
    cluster: str
    node: str
    namespace: str
    host_interface: str  # the pod's veth end in its node's namespace
    ip4: str | None
    ip6: str | None

    @property
    def ips(self) -> tuple[str, ...]:
        return tuple(ip for ip in (self.ip4, self.ip6) if ip)

    @property
    def path(self) -> str:
        return f"{self.cluster}/{self.node}/{self.name}"


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    cluster: str
    namespace: str
    router_interface: str  # the node's veth end in the router's namespace
    ip4: str | None
    ip6: str | None
    pod_cidr4: str | None
    pod_cidr6: str | None
    pods: tuple[PodPlan, ...]

    @property
    def cluster_node(self) -> str:
        return naming.cluster_node_name(self.cluster, self.name)

    @property
    def ips(self) -> tuple[str, ...]:
        return tuple(ip for ip in (self.ip4, self.ip6) if ip)

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        return tuple(cidr for cidr in (self.pod_cidr4, self.pod_cidr6) if cidr)

    @property
    def path(self) -> str:
        return f"{self.cluster}/{self.name}"


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    name: str
    index: int
    network_type: NetworkType
    bridge: str  # the underlay bridge in the router's namespace
    underlay4: str | None
    underlay6: str | None
    router4: str | None
    router6: str | None
    pod_cidrs: tuple[str, ...]
    service_cidrs: tuple[str, ...]
    global_cidrs: tuple[tuple[str, str], ...]  # (real CIDR, global CIDR)
    nodes: tuple[NodePlan, ...]

    @property
    def pods(self) -> tuple[PodPlan, ...]:
        return tuple(pod for node in self.nodes for pod in node.pods)

    def reachable_ip(self, pod: PodPlan, family: Literal[4, 6]) -> str | None:
        """The address other clusters use for ``pod``: its own, or its global one."""
        ip = pod.ip4 if family == 4 else pod.ip6
        if ip is None:
            return None
        address = ipaddress.ip_address(ip)
        for real, global_cidr in self.global_cidrs:
            real_net = ipaddress.ip_network(real)
            if address.version == real_net.version and address in real_net:
                offset = int(address) - int(real_net.network_address)
                base = ipaddress.ip_network(global_cidr).network_address
                return str(ipaddress.ip_address(int(base) + offset))
        return ip


@dataclass(frozen=True, slots=True)
class LabPlan:
    spec: LabSpec
    router_namespace: str
    control_namespace: str
    clusters: tuple[ClusterPlan, ...]

    @property
    def nodes(self) -> tuple[NodePlan, ...]:
        return tuple(node for cluster in self.clusters for node in cluster.nodes)

    @property
    def pods(self) -> tuple[PodPlan, ...]:
        return tuple(pod for node in self.nodes for pod in node.pods)

    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of the lab, in creation order (pods after their node)."""
        names = [self.router_namespace, self.control_namespace]
        for node in self.nodes:
            names.append(node.namespace)
            names.extend(pod.namespace for pod in node.pods)
        return tuple(names)

    def cluster(self, name: str) -> ClusterPlan:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise naming.LabNameError(f"lab {self.spec.name} has no cluster {name!r}")

    def node(self, cluster: str, name: str) -> NodePlan:
        for node in self.cluster(cluster).nodes:
            if node.name == name:
                return node
        raise naming.LabNameError(f"cluster {cluster} of lab {self.spec.name} has no {name!r}")

    def namespace_of(self, target: naming.Target) -> str:
        node = self.node(target.cluster, target.node)
        if target.pod is None:
            return node.namespace
        for pod in node.pods:
            if pod.name == target.pod:
                return pod.namespace
        raise naming.LabNameError(f"node {node.path} has no pod {target.pod!r}")

    def pod_pairs(self) -> Iterator[tuple[PodPlan, PodPlan, ClusterPlan]]:
        """(source pod, destination pod, destination cluster) across clusters."""
        for source in self.pods:
            for cluster in self.clusters:
                if cluster.name == source.cluster:
                    continue
                for destination in cluster.pods:
                    yield source, destination, cluster


def address_from(
    source: ClusterPlan, destination: ClusterPlan, pod: PodPlan, family: Literal[4, 6]
) -> str | None:
    """The address pods of ``source`` use for ``pod`` (its global one when mapped), or None
    when it is unreachable from there: the clusters' real pod CIDRs overlap."""
    for mine in source.pod_cidrs:
        for theirs in destination.pod_cidrs:
            if ipaddress.ip_network(mine).overlaps(ipaddress.ip_network(theirs)):
                return None
    return destination.reachable_ip(pod, family)


def network_type_of(mode: Mode, index: int) -> NetworkType:
    """Mixed labs alternate: odd clusters P2P, even clusters gateway."""
    if mode == "mixed":
        return "p2p" if index % 2 == 1 else "gateway"
    return mode


def _host(network: str, number: int) -> str:
    net = ipaddress.ip_network(network)
    return str(net.network_address + number)


def _pod(
    *, spec: LabSpec, lab_cluster: str, pod_range: int, node_index: int, pod_index: int, node: str
) -> PodPlan:
    name = naming.pod_name(pod_index)
    host = FIRST_HOST + pod_index
    return PodPlan(
        name=name,
        cluster=lab_cluster,
        node=node,
        namespace=naming.pod_namespace(spec.name, lab_cluster, node, name),
        host_interface=f"cali-{name}",
        ip4=f"10.{pod_range}.{node_index}.{host}" if spec.has_ipv4 else None,
        ip6=f"fd33:{pod_range:x}:{node_index:x}::{host:x}" if spec.has_ipv6 else None,
    )


def _node(spec: LabSpec, cluster: str, index: int, pod_range: int, node_index: int) -> NodePlan:
    name = naming.node_name(node_index)
    host = FIRST_HOST + node_index
    pods = tuple(
        _pod(
            spec=spec,
            lab_cluster=cluster,
            pod_range=pod_range,
            node_index=node_index,
            pod_index=k,
            node=name,
        )
        for k in range(1, spec.pods_per_node + 1)
    )
    return NodePlan(
        name=name,
        cluster=cluster,
        namespace=naming.node_namespace(spec.name, cluster, name),
        router_interface=f"c{index}n{node_index}",
        ip4=_host(f"192.168.{index}.0/24", host) if spec.has_ipv4 else None,
        ip6=_host(f"fd10:{index:x}::/64", host) if spec.has_ipv6 else None,
        pod_cidr4=f"10.{pod_range}.{node_index}.0/24" if spec.has_ipv4 else None,
        pod_cidr6=f"fd33:{pod_range:x}:{node_index:x}::/64" if spec.has_ipv6 else None,
        pods=pods,
    )


def _cluster(spec: LabSpec, index: int, pod_range: int, mapped: bool) -> ClusterPlan:
    name = naming.cluster_name(index)
    pod_cidrs = (
        *([f"10.{pod_range}.0.0/16"] if spec.has_ipv4 else []),
        *([f"fd33:{pod_range:x}::/32"] if spec.has_ipv6 else []),
    )
    service_cidrs = (
        *([f"10.{SERVICE_OFFSET + index}.0.0/16"] if spec.has_ipv4 else []),
        *([f"fd96:{index:x}::/112"] if spec.has_ipv6 else []),
    )
    global_cidrs: tuple[tuple[str, str], ...] = ()
    if mapped:
        global_range = GLOBAL_OFFSET + index
        global_cidrs = tuple(
            (
                real,
                f"10.{global_range}.0.0/16" if ":" not in real else f"fd33:{global_range:x}::/32",
            )
            for real in pod_cidrs
        )
    return ClusterPlan(
        name=name,
        index=index,
        network_type=network_type_of(spec.mode, index),
        bridge=f"br-c{index}",
        underlay4=f"192.168.{index}.0/24" if spec.has_ipv4 else None,
        underlay6=f"fd10:{index:x}::/64" if spec.has_ipv6 else None,
        router4=f"192.168.{index}.1" if spec.has_ipv4 else None,
        router6=f"fd10:{index:x}::1" if spec.has_ipv6 else None,
        pod_cidrs=pod_cidrs,
        service_cidrs=service_cidrs,
        global_cidrs=global_cidrs,
        nodes=tuple(_node(spec, name, index, pod_range, j) for j in range(1, spec.nodes + 1)),
    )


def plan_lab(spec: LabSpec) -> LabPlan:
    """The whole lab. The overlapping cluster, if any, reuses cluster1's pod ranges."""
    clusters = [_cluster(spec, i, i, mapped=False) for i in range(1, spec.clusters + 1)]
    if spec.overlap:
        clusters.append(_cluster(spec, spec.clusters + 1, 1, mapped=True))
    return LabPlan(
        spec=spec,
        router_namespace=naming.router_namespace(spec.name),
        control_namespace=naming.control_namespace(spec.name),
        clusters=tuple(clusters),
    )
