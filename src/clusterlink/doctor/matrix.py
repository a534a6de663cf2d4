"""What the doctor probes: every ordered pair of floaters, per family, as one plan per source.

Pure: from the registered floaters and the user's choices it builds the checks and, for
each source floater, the plan it will run, so the size and expected duration are known
before anything is sent. Pod addresses of clusters joined through ``globalCIDRsMap`` are
probed at their global address; pairs of clusters whose pod ranges overlap are skipped
(they cannot reach each other at all).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from clusterlink.floater.messages import FloaterInfo, Network
from clusterlink.floater.plan import ProbePlan, Protocol, Target

Family = Literal[4, 6]
ProtocolChoice = Literal["ping", "tcp", "http", "all"]
FamilyChoice = Literal["ipv4", "ipv6", "all"]
PROTOCOL_CHOICES: tuple[ProtocolChoice, ...] = ("ping", "tcp", "http", "all")
FAMILY_CHOICES: tuple[FamilyChoice, ...] = ("ipv4", "ipv6", "all")
DEFAULT_COUNT = 1  # attempts per probe: upstream's one ``ping -c 1`` per pair


@dataclass(frozen=True, slots=True)
class ClusterNetwork:
    """What the control store says about a cluster's pod addresses."""

    pod_cidrs: tuple[str, ...] = ()
    global_cidrs: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class MatrixOptions:
    networks: tuple[Network, ...] = ("pod",)
    protocol: ProtocolChoice = "all"
    ip_family: FamilyChoice = "all"
    mtu: bool = False
    sample: int | None = None
    count: int = DEFAULT_COUNT
    interval: float = 0.05
    timeout: float = 1.0
    concurrency: int = 64
    port: int | None = None  # None: each floater's registered port

    @property
    def protocols(self) -> tuple[Protocol, ...]:
        chosen: tuple[Protocol, ...] = (
            ("ping", "tcp", "http") if self.protocol == "all" else (self.protocol,)
        )
        return (*chosen, "mtu") if self.mtu else chosen

    @property
    def families(self) -> tuple[Family, ...]:
        if self.ip_family == "ipv4":
            return (4,)
        if self.ip_family == "ipv6":
            return (6,)
        return (4, 6)


@dataclass(frozen=True, slots=True)
class Check:
    """One (source, destination, family) cell; it is probed with every chosen protocol."""

    source: FloaterInfo
    destination: FloaterInfo
    family: Family
    address: str

    @property
    def target_id(self) -> str:
        return f"{self.destination.name}.v{self.family}"

    @property
    def network(self) -> Network:
        return self.source.network


@dataclass(frozen=True, slots=True)
class Matrix:
    run: str
    checks: tuple[Check, ...]
    plans: tuple[tuple[FloaterInfo, ProbePlan], ...]
    options: MatrixOptions

    @property
    def probe_count(self) -> int:
        return sum(plan.probe_count for _, plan in self.plans)

    def expected_seconds(self) -> float:
        """A healthy matrix takes about one round of probes per ``concurrency`` targets;
        every unreachable target adds up to one timeout."""
        per_probe = (self.options.count - 1) * self.options.interval + 0.05
        widest = max((plan.probe_count for _, plan in self.plans), default=0)
        return math.ceil(widest / self.options.concurrency) * per_probe + 0.5


def sample_nodes(
    floaters: Sequence[FloaterInfo], per_cluster: int, gateways: Collection[tuple[str, str]]
) -> list[FloaterInfo]:
    """Floaters on at most ``per_cluster`` nodes of each cluster, gateways always included
    (gateways first, then nodes by name)."""
    chosen: set[tuple[str, str]] = set()
    for cluster in sorted({f.cluster for f in floaters}):
        nodes = sorted({f.node for f in floaters if f.cluster == cluster})
        ordered = sorted(nodes, key=lambda node: ((cluster, node) not in gateways, node))
        kept = [n for n in ordered if (cluster, n) in gateways]
        kept += [n for n in ordered if (cluster, n) not in gateways][
            : max(0, per_cluster - len(kept))
        ]
        chosen.update((cluster, node) for node in kept)
    return [f for f in floaters if (f.cluster, f.node) in chosen]


def _overlap(a: ClusterNetwork | None, b: ClusterNetwork | None) -> bool:
    if a is None or b is None:
        return False
    ours = [ipaddress.ip_network(x) for x in a.pod_cidrs]
    theirs = [ipaddress.ip_network(y) for y in b.pod_cidrs]
    return any(x.version == y.version and x.overlaps(y) for x in ours for y in theirs)


def global_address(address: str, network: ClusterNetwork | None) -> str:
    """``address`` moved into its global CIDR when its cluster maps it (upstream ``NetMap``)."""
    if network is None or not network.global_cidrs:
        return address
    ip = ipaddress.ip_address(address)
    for real, mapped in network.global_cidrs.items():
        real_net, global_net = ipaddress.ip_network(real), ipaddress.ip_network(mapped)
        if ip.version == real_net.version and ip in real_net:
            offset = int(ip) - int(real_net.network_address)
            return str(ipaddress.ip_address(int(global_net.network_address) + offset))
    return address


@dataclass
class _Addresses:
    """What the matrix asks about clusters and destinations, each answered once: whether two
    clusters' pod ranges overlap, and where a destination is probed in each family. Asking
    per pair parsed the same networks again for every pair, a cost that grew with the square
    of the floaters."""

    clusters: Mapping[str, ClusterNetwork]
    _overlaps: dict[tuple[str, str], bool] = field(default_factory=dict)
    _probed_at: dict[tuple[str, Family, bool], str | None] = field(default_factory=dict)

    def overlap(self, one: str, other: str) -> bool:
        key = (one, other) if one <= other else (other, one)
        if key not in self._overlaps:
            self._overlaps[key] = _overlap(self.clusters.get(one), self.clusters.get(other))
        return self._overlaps[key]

    def probed_at(self, destination: FloaterInfo, family: Family, remote: bool) -> str | None:
        """The destination's address of ``family``; seen from another cluster, a pod's moved
        into its global CIDR (inside its own cluster, pods reach it at its own address)."""
        key = (destination.name, family, remote)
        if key not in self._probed_at:
            address = destination.address(family)
            if address is not None and remote and destination.network == "pod":
                address = global_address(address, self.clusters.get(destination.cluster))
            self._probed_at[key] = address
        return self._probed_at[key]


def _pairable(source: FloaterInfo, destination: FloaterInfo, single_cluster: bool) -> bool:
    if source.network != destination.network:
        return False
    if single_cluster:
        return source.node != destination.node
    return source.cluster != destination.cluster


def build_matrix(
    run: str,
    floaters: Sequence[FloaterInfo],
    options: MatrixOptions,
    clusters: Mapping[str, ClusterNetwork],
    gateways: Collection[tuple[str, str]] = (),
) -> Matrix:
    chosen = [f for f in floaters if f.network in options.networks]
    if options.sample is not None:
        chosen = sample_nodes(chosen, options.sample, gateways)
    chosen.sort(key=lambda f: (f.cluster, f.node, f.network, f.name))
    single_cluster = len({f.cluster for f in chosen}) == 1
    checks: list[Check] = []
    plans: list[tuple[FloaterInfo, ProbePlan]] = []
    addresses = _Addresses(clusters)
    for source in chosen:
        targets: list[Target] = []
        pod = source.network == "pod"
        own = {family: source.address(family) is not None for family in options.families}
        for destination in chosen:
            if not _pairable(source, destination, single_cluster):
                continue
            remote = source.cluster != destination.cluster
            if pod and remote and addresses.overlap(source.cluster, destination.cluster):
                continue
            for family in options.families:
                address = addresses.probed_at(destination, family, remote) if own[family] else None
                if address is None:
                    continue
                check = Check(source, destination, family, address)
                checks.append(check)
                targets.append(
                    Target(
                        check.target_id,
                        address,
                        options.port or destination.port,
                        options.protocols,
                    )
                )
        if targets:
            plan = ProbePlan(
                run=run,
                floater=source.name,
                targets=tuple(targets),
                count=options.count,
                interval=options.interval,
                timeout=options.timeout,
                concurrency=options.concurrency,
            )
            plans.append((source, plan))
    return Matrix(run, tuple(checks), tuple(plans), options)
