"""Node plans: the desired ``NodeConfig.spec`` of each node, held as views over shared blocks.

A node's routes to other clusters and its bridge FDB/ARP mesh are the same blocks for
every node that receives them (see :mod:`clusterlink.planner.layout`). A :class:`NodePlan`
keeps its own small lists (devices, iptables, the ``vx-local`` star) and two views, which
enumerate the shared blocks of an immutable :class:`Snapshot` of the federation on demand.
Counting is O(clusters with conflicts), enumeration is O(entries), and building a plan is
O(1), so recomputing thousands of plans after a gateway failover costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from clusterlink.api import constants as c
from clusterlink.api.models import Arp, Device, Fdb, Iptables, NodeConfigSpec, Route
from clusterlink.planner.entries import DeviceEntry, NeighbourEntry, RouteEntry, RuleEntry
from clusterlink.planner.layout import ClusterLayout, Vtep


@dataclass(frozen=True, eq=False, slots=True)
class Snapshot:
    """The federation as the plans of one computation see it. Never mutated."""

    order: tuple[str, ...]
    layouts: Mapping[str, ClusterLayout]
    # receiving cluster -> source cluster -> CIDRs of the source not routed to the receiver
    excluded: Mapping[str, Mapping[str, frozenset[str]]]
    route_totals: Mapping[int, int]
    vtep_totals: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class RemoteRoutes:
    """Routes of one node toward every other cluster."""

    snapshot: Snapshot
    cluster: str
    families: tuple[int, ...]
    # family -> (gateway, device) for internal nodes; empty for bridge nodes
    via: Mapping[int, tuple[str, str]]

    def __iter__(self) -> Iterator[RouteEntry]:
        snapshot = self.snapshot
        excluded = snapshot.excluded.get(self.cluster, {})
        for source in snapshot.order:
            if source == self.cluster:
                continue
            blocks = snapshot.layouts[source].routes
            skipped = excluded.get(source)
            for family in self.families:
                entries = blocks.get(family, ())
                via = self.via.get(family)
                if skipped:
                    entries = tuple(e for e in entries if e.cidr not in skipped)
                if via is None:
                    yield from entries
                else:
                    gateway, device = via
                    for entry in entries:
                        yield RouteEntry(entry.cidr, gateway, device)

    def __len__(self) -> int:
        snapshot = self.snapshot
        own = snapshot.layouts[self.cluster].routes
        count = sum(snapshot.route_totals.get(f, 0) - len(own.get(f, ())) for f in self.families)
        for source, skipped in snapshot.excluded.get(self.cluster, {}).items():
            blocks = snapshot.layouts[source].routes
            for family in self.families:
                count -= sum(1 for e in blocks.get(family, ()) if e.cidr in skipped)
        return count


@dataclass(frozen=True, slots=True)
class BridgeMesh:
    """FDB and ARP entries of one bridge node toward every other bridge VTEP."""

    snapshot: Snapshot
    node: str
    cluster: str
    families: tuple[int, ...]

    def _peers(self) -> Iterator[Vtep]:
        snapshot = self.snapshot
        for source in snapshot.order:
            vteps = snapshot.layouts[source].vteps
            for family in self.families:
                for vtep in vteps.get(family, ()):
                    if vtep.node != self.node:
                        yield vtep

    def fdbs(self) -> Iterator[NeighbourEntry]:
        for vtep in self._peers():
            yield vtep.flood
            yield vtep.forward

    def arps(self) -> Iterator[NeighbourEntry]:
        for vtep in self._peers():
            yield vtep.neighbour

    def peer_count(self) -> int:
        own = self.snapshot.layouts[self.cluster].vteps
        count = 0
        for family in self.families:
            count += self.snapshot.vtep_totals.get(family, 0)
            count -= sum(1 for v in own.get(family, ()) if v.node == self.node)
        return count


@dataclass(frozen=True, eq=False, slots=True)
class NodePlan:
    """The desired configuration of one node (``NodeConfig`` named ``name``).

    Compare plans with :meth:`entry_sets`; ``==`` is identity, because comparing two
    views means enumerating them.
    """

    name: str
    cluster: str
    devices: tuple[DeviceEntry, ...]
    iptables: tuple[RuleEntry, ...]
    own_routes: tuple[RouteEntry, ...] = ()
    own_fdbs: tuple[NeighbourEntry, ...] = ()
    own_arps: tuple[NeighbourEntry, ...] = ()
    remote_routes: RemoteRoutes | None = None
    mesh: BridgeMesh | None = None

    def routes(self) -> Iterator[RouteEntry]:
        yield from self.own_routes
        if self.remote_routes is not None:
            yield from self.remote_routes

    def fdbs(self) -> Iterator[NeighbourEntry]:
        if self.mesh is not None:
            yield from self.mesh.fdbs()
        yield from self.own_fdbs

    def arps(self) -> Iterator[NeighbourEntry]:
        if self.mesh is not None:
            yield from self.mesh.arps()
        yield from self.own_arps

    def counts(self) -> dict[str, int]:
        """Entries per list, without enumerating the shared blocks."""
        peers = self.mesh.peer_count() if self.mesh is not None else 0
        remote = len(self.remote_routes) if self.remote_routes is not None else 0
        return {
            "devices": len(self.devices),
            "routes": len(self.own_routes) + remote,
            "fdbs": len(self.own_fdbs) + 2 * peers,
            "arps": len(self.own_arps) + peers,
            "iptables": len(self.iptables),
        }

    def entry_sets(self) -> tuple[frozenset[Any], ...]:
        """Every list as a set: what "this node's configuration changed" is measured on."""
        return (
            frozenset(self.devices),
            frozenset(self.routes()),
            frozenset(self.iptables),
            frozenset(self.fdbs()),
            frozenset(self.arps()),
        )

    def to_spec(self) -> NodeConfigSpec:
        """The API model of this plan (enumerates every entry)."""
        return NodeConfigSpec(
            devices=tuple(
                Device(
                    name=d.name, addr=d.addr, mac=d.mac, bind_dev=d.bind_dev, id=d.id, port=d.port
                )
                for d in self.devices
            ),
            routes=tuple(Route(cidr=r.cidr, gw=r.gw, dev=r.dev) for r in self.routes()),
            iptables=tuple(
                Iptables(table=r.table, chain=r.chain, rule=r.rule) for r in self.iptables
            ),
            fdbs=tuple(Fdb(ip=f.ip, mac=f.mac, dev=f.dev) for f in self.fdbs()),
            arps=tuple(Arp(ip=a.ip, mac=a.mac, dev=a.dev) for a in self.arps()),
        )

    def to_spec_document(self) -> dict[str, list[dict[str, Any]]]:
        """The JSON form of the spec, built without models (fast, for writing objects)."""
        return {
            "devices": [
                {
                    "type": c.DEVICE_TYPE_VXLAN,
                    "name": d.name,
                    "addr": d.addr,
                    "mac": d.mac,
                    "bindDev": d.bind_dev,
                    "id": d.id,
                    "port": d.port,
                }
                for d in self.devices
            ],
            "routes": [{"cidr": r.cidr, "gw": r.gw, "dev": r.dev} for r in self.routes()],
            "iptables": [
                {"table": r.table, "chain": r.chain, "rule": r.rule} for r in self.iptables
            ],
            "fdbs": [{"ip": f.ip, "mac": f.mac, "dev": f.dev} for f in self.fdbs()],
            "arps": [{"ip": a.ip, "mac": a.mac, "dev": a.dev} for a in self.arps()],
        }


def node_config_document(plan: NodePlan) -> dict[str, Any]:
    """The ``NodeConfig`` object of a plan, as the network-manager writes it."""
    labels = {c.LABEL_CLUSTER: plan.cluster} if plan.cluster else {}
    return {
        "apiVersion": c.API_VERSION,
        "kind": "NodeConfig",
        "metadata": {"name": plan.name, "labels": labels},
        "spec": plan.to_spec_document(),
    }


def plan_from_spec(name: str, cluster: str, spec: NodeConfigSpec) -> NodePlan:
    """A fixed plan equal to an existing spec (kept for nodes whose input is broken)."""
    return NodePlan(
        name=name,
        cluster=cluster,
        devices=tuple(
            DeviceEntry(d.name, d.addr, d.mac, d.bind_dev, d.id, d.port) for d in spec.devices
        ),
        iptables=tuple(RuleEntry(r.table, r.chain, r.rule) for r in spec.iptables),
        own_routes=tuple(RouteEntry(r.cidr, r.gw, r.dev) for r in spec.routes),
        own_fdbs=tuple(NeighbourEntry(f.ip, f.mac, f.dev) for f in spec.fdbs),
        own_arps=tuple(NeighbourEntry(a.ip, a.mac, a.dev) for a in spec.arps),
    )
