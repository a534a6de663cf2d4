"""The network-manager's brain: clusters and cluster nodes in, node configurations out.

:func:`plan_federation` is the full computation. :class:`Planner` keeps the federation
and, given a change (a cluster or node added, changed or removed), recomputes only the
clusters it touches and returns only the node plans whose entries changed. Both paths run
the same code: a full computation is an incremental one in which every cluster changed,
so "incremental equals full" is a property of one implementation, which the tests check.

Pure and deterministic: no I/O, no clock; MACs come from an injected :data:`MacSource`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterlink.api import constants as c
from clusterlink.api.errors import ObjectRef, Problem
from clusterlink.api.models import Cluster, ClusterNode, NodeConfigSpec
from clusterlink.api.validation import (
    ClusterCheck,
    IPAddress,
    NodeCheck,
    check_cluster,
    check_cluster_node,
    parse_network,
)
from clusterlink.planner.addressing import AddressBook, MacSource, random_mac, splice_address
from clusterlink.planner.entries import DeviceEntry
from clusterlink.planner.layout import (
    ClusterLayout,
    DeviceRequest,
    build_layout,
    elect_gateway,
    request_devices,
)
from clusterlink.planner.overlap import OverlapIndex
from clusterlink.planner.plan import BridgeMesh, NodePlan, RemoteRoutes, Snapshot, plan_from_spec

Space = tuple[Any, ...]
_MAX_LISTED_RECEIVERS = 5


@dataclass(frozen=True)
class FederationPlan:
    """The desired configuration of every node, and every problem found.

    ``held`` names nodes whose input is broken: their existing NodeConfig must be kept as
    it is (it is in ``nodes`` when the planner knew it), never deleted for that reason.
    """

    nodes: Mapping[str, NodePlan]
    held: frozenset[str]
    problems: Mapping[ObjectRef, tuple[Problem, ...]]

    def all_problems(self) -> list[Problem]:
        return [p for ref in sorted(self.problems, key=str) for p in self.problems[ref]]


@dataclass(frozen=True)
class PlanDelta:
    """What one change did: plans added or changed, plans to delete, problems changed
    (an empty tuple means the object's problems are resolved)."""

    changed: Mapping[str, NodePlan]
    removed: frozenset[str]
    problems: Mapping[ObjectRef, tuple[Problem, ...]]


@dataclass
class _Exclusions:
    """Which exported CIDRs are not routed to which cluster, because they overlap its own.

    Upstream's "do not break the local cluster" rule. Kept in both directions so a change
    of one cluster updates only the pairs it is part of.
    """

    by_receiver: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    by_source: dict[str, set[str]] = field(default_factory=dict)

    def copy(self) -> _Exclusions:
        return _Exclusions(
            dict(self.by_receiver), {source: set(r) for source, r in self.by_source.items()}
        )

    def get(self, receiver: str, source: str) -> frozenset[str]:
        return self.by_receiver.get(receiver, {}).get(source, frozenset())

    def set(self, receiver: str, source: str, cidrs: frozenset[str]) -> None:
        inner = dict(self.by_receiver.get(receiver, {}))  # copy on write: snapshots share it
        if cidrs:
            inner[source] = cidrs
            self.by_source.setdefault(source, set()).add(receiver)
        else:
            inner.pop(source, None)
            self.by_source.get(source, set()).discard(receiver)
        if inner:
            self.by_receiver[receiver] = inner
        else:
            self.by_receiver.pop(receiver, None)


class Planner:
    """Incremental planner of one federation. Not thread-safe; one owner calls it."""

    def __init__(self, mac_source: MacSource = random_mac) -> None:
        self._mac_source = mac_source
        self._reset()

    def _reset(self) -> None:
        self._clusters: dict[str, Cluster] = {}
        self._nodes: dict[str, ClusterNode] = {}
        self._members: dict[str, set[str]] = {}
        self._layouts: dict[str, ClusterLayout] = {}
        self._plans: dict[str, NodePlan] = {}
        self._held: set[str] = set()
        self._previous: dict[str, dict[str, DeviceEntry]] = {}
        self._fallback: dict[str, NodeConfigSpec] = {}
        self._placed_in: dict[str, str] = {}
        self._claims: dict[str, list[tuple[Space, IPAddress]]] = {}
        self._addresses = AddressBook()
        # address space -> clusters with a device that found no free address in it
        self._starved: dict[Space, set[str]] = {}
        self._own_index: OverlapIndex[str] = OverlapIndex()
        self._export_index: OverlapIndex[tuple[str, str]] = OverlapIndex()
        self._exclusions = _Exclusions()
        self._problems: dict[ObjectRef, tuple[Problem, ...]] = {}
        self._route_totals: dict[int, int] = {4: 0, 6: 0}
        self._vtep_totals: dict[int, int] = {4: 0, 6: 0}
        self._snapshot = Snapshot((), {}, {}, {}, {})

    # --- public API ------------------------------------------------------------------

    @property
    def plan(self) -> FederationPlan:
        """A copy of the whole current plan (O(nodes); use the accessors in loops)."""
        return FederationPlan(dict(self._plans), frozenset(self._held), dict(self._problems))

    def node_plan(self, name: str) -> NodePlan | None:
        return self._plans.get(name)

    def is_held(self, name: str) -> bool:
        return name in self._held

    def problems_of(self, ref: ObjectRef) -> tuple[Problem, ...]:
        return self._problems.get(ref, ())

    def all_problems(self) -> list[Problem]:
        return [p for problems in self._problems.values() for p in problems]

    def load(
        self,
        clusters: Iterable[Cluster],
        nodes: Iterable[ClusterNode],
        previous: Mapping[str, NodeConfigSpec] | None = None,
    ) -> FederationPlan:
        """Full computation; ``previous`` NodeConfig specs keep MACs and addresses stable."""
        self._reset()
        previous = previous or {}
        self._previous = {
            name: {
                d.name: DeviceEntry(d.name, d.addr, d.mac, d.bind_dev, d.id, d.port)
                for d in spec.devices
            }
            for name, spec in previous.items()
        }
        self._fallback = dict(previous)
        dirty = self._set_inputs(clusters, nodes)
        self._recompute(dirty)
        self._fallback = {}
        return self.plan

    def apply(
        self,
        *,
        upsert_clusters: Iterable[Cluster] = (),
        delete_clusters: Iterable[str] = (),
        upsert_nodes: Iterable[ClusterNode] = (),
        delete_nodes: Iterable[str] = (),
    ) -> PlanDelta:
        """Apply a batch of changes; return only what changed."""
        dirty: set[str] = set()
        forgotten: set[str] = set()
        for cluster in upsert_clusters:
            self._clusters[cluster.name] = cluster
            dirty.add(cluster.name)
        for name in delete_clusters:
            self._clusters.pop(name, None)
            dirty.add(name)
        for node in upsert_nodes:
            dirty |= self._forget_node(node.name)
            forgotten.discard(node.name)
            self._nodes[node.name] = node
            self._members.setdefault(node.spec.cluster_name, set()).add(node.name)
            dirty.add(node.spec.cluster_name)
        for name in delete_nodes:
            dirty |= self._forget_node(name)
            forgotten.add(name)
        return self._recompute(dirty, forgotten)

    # --- inputs ----------------------------------------------------------------------

    def _set_inputs(self, clusters: Iterable[Cluster], nodes: Iterable[ClusterNode]) -> set[str]:
        self._clusters = {cluster.name: cluster for cluster in clusters}
        for node in nodes:
            self._nodes[node.name] = node
            self._members.setdefault(node.spec.cluster_name, set()).add(node.name)
        return set(self._clusters) | set(self._members)

    def _forget_node(self, name: str) -> set[str]:
        old = self._nodes.pop(name, None)
        if old is None:
            return set()
        self._members.get(old.spec.cluster_name, set()).discard(name)
        return {old.spec.cluster_name}

    # --- the computation -------------------------------------------------------------

    def _recompute(self, dirty: set[str], forgotten: Iterable[str] = ()) -> PlanDelta:
        replaced = self._widen_to_starved(dirty)
        old_layouts = {name: self._layouts.get(name) for name in dirty}
        checks = {name: self._check(name) for name in dirty}
        for node in replaced:
            self._release(node)
        for starving in self._starved.values():
            starving.difference_update(dirty)

        usable: dict[str, dict[str, NodeCheck]] = {}
        node_problems: dict[str, list[Problem]] = {}
        held: set[str] = set()
        for cluster_name, (cluster_check, node_checks) in checks.items():
            for node_name, node_check in node_checks.items():
                node_problems[node_name] = list(node_check.problems)
                if node_check.usable:
                    usable.setdefault(cluster_name, {})[node_name] = node_check
                elif node_check.held:
                    held.add(node_name)
            if cluster_check is not None and cluster_check.linked and cluster_check.usable:
                usable.setdefault(cluster_name, {})

        gateways = {
            name: elect_gateway([(n, self._nodes[n].spec.is_gateway) for n in members])
            for name, members in usable.items()
        }
        requests: list[DeviceRequest] = []
        for name, members in sorted(usable.items()):
            cluster_check = checks[name][0]
            assert cluster_check is not None
            interfaces = {n: self._nodes[n].spec.interface_name for n in members}
            requests += request_devices(cluster_check, members, interfaces, gateways[name])
        devices = self._allocate(sorted(held), requests, node_problems)

        for name in dirty:
            self._layouts.pop(name, None)
        for name, members in usable.items():
            cluster_check = checks[name][0]
            assert cluster_check is not None
            self._layouts[name] = build_layout(cluster_check, members, gateways[name], devices)
        for cluster_name, members in usable.items():
            for node_name in members:
                self._placed_in[node_name] = cluster_name
        for node_name in held:
            self._placed_in[node_name] = self._nodes[node_name].spec.cluster_name
        old_exclusions = self._exclusions.copy()
        touched_targets = self._update_exclusions(dirty, old_layouts)
        self._update_totals(old_layouts)
        self._snapshot = Snapshot(
            order=tuple(sorted(self._layouts)),
            layouts=dict(self._layouts),
            excluded=dict(self._exclusions.by_receiver),
            route_totals=dict(self._route_totals),
            vtep_totals=dict(self._vtep_totals),
        )
        changed, removed = self._replan(dirty, replaced, held, old_layouts, old_exclusions)
        gone = {n for n in (*replaced, *forgotten) if n not in self._nodes}
        problems = self._update_problems(dirty, checks, node_problems, touched_targets, gone)
        return PlanDelta(changed, frozenset(removed), problems)

    def _widen_to_starved(self, dirty: set[str]) -> set[str]:
        """Add to ``dirty`` the clusters that lacked an address in a space this change
        frees addresses in (a full computation would give them one); return the nodes
        to place again."""
        while True:
            replaced = {n for n, cluster in self._placed_in.items() if cluster in dirty}
            for name in dirty:
                replaced |= self._members.get(name, set())
            freed = {space for node in replaced for space, _ in self._claims.get(node, [])}
            waiting = set().union(*(self._starved.get(space, set()) for space in freed))
            if waiting <= dirty:
                return replaced
            dirty |= waiting

    def _check(self, name: str) -> tuple[ClusterCheck | None, dict[str, NodeCheck]]:
        cluster = self._clusters.get(name)
        cluster_check = check_cluster(cluster) if cluster is not None else None
        nodes = {
            n: check_cluster_node(self._nodes[n], cluster_check)
            for n in self._members.get(name, set())
        }
        return cluster_check, nodes

    # --- addresses -------------------------------------------------------------------

    def _release(self, node: str) -> None:
        for space, address in self._claims.pop(node, []):
            self._addresses.release(space, address, node)
        self._placed_in.pop(node, None)

    def _space(self, node: str, device: str, cluster: str) -> Space:
        family = c.DEVICE_FAMILY[device]
        if device in (c.VX_BRIDGE, c.VX_BRIDGE_6):
            return ("bridge", family)
        return ("local", cluster, family)

    def _claim(self, node: str, space: Space, address: IPAddress, cluster: str) -> bool:
        if not self._addresses.claim(space, address, node):
            return False
        self._claims.setdefault(node, []).append((space, address))
        self._placed_in[node] = cluster
        return True

    def _allocate(
        self, held: list[str], requests: list[DeviceRequest], problems: dict[str, list[Problem]]
    ) -> dict[str, tuple[DeviceEntry, ...]]:
        """Addresses and MACs of the requested devices.

        First every device that keeps its previous, still valid address claims it (held
        nodes keep all of theirs); then the others get their spliced address, or the next
        free one when it is taken. The result does not depend on which clusters changed.
        """
        for node in held:
            kept = self._plans.get(node)
            spec_devices = kept.devices if kept is not None else self._fallback_devices(node)
            cluster = self._nodes[node].spec.cluster_name
            for device in spec_devices:
                if device.name in c.DEVICE_FAMILY:
                    address = ipaddress.ip_interface(device.addr).ip
                    self._claim(node, self._space(node, device.name, cluster), address, cluster)
        addresses: dict[tuple[str, str], str] = {}
        for request in sorted(requests, key=lambda r: r.node):
            previous = self._previous.get(request.node, {}).get(request.name)
            kept_address = _valid_address(previous, request)
            cluster = self._nodes[request.node].spec.cluster_name
            space = self._space(request.node, request.name, cluster)
            if kept_address is not None and self._claim(request.node, space, kept_address, cluster):
                addresses[(request.node, request.name)] = str(kept_address)
        result: dict[str, list[DeviceEntry]] = {}
        for request in sorted(requests, key=lambda r: r.node):
            key = (request.node, request.name)
            cluster = self._nodes[request.node].spec.cluster_name
            space = self._space(request.node, request.name, cluster)
            if key not in addresses:
                preferred = splice_address(ipaddress.ip_address(request.underlay), request.space)
                allocated = self._addresses.allocate(space, request.space, preferred, request.node)
                if allocated is None:
                    self._starved.setdefault(space, set()).add(cluster)
                    problems.setdefault(request.node, []).append(
                        Problem(
                            ObjectRef("ClusterNode", request.node),
                            "spec",
                            f"no free address for {request.name} in {request.space}",
                        )
                    )
                    continue
                self._claims.setdefault(request.node, []).append((space, allocated))
                self._placed_in[request.node] = cluster
                addresses[key] = str(allocated)
            previous = self._previous.get(request.node, {}).get(request.name)
            mac = previous.mac if previous is not None and previous.mac else None
            result.setdefault(request.node, []).append(
                DeviceEntry(
                    request.name,
                    f"{addresses[key]}/{request.space.prefixlen}",
                    mac or self._mac_source(request.node, request.name),
                    request.bind_dev,
                    c.DEVICE_VNI[request.name],
                    c.DEVICE_PORT[request.name],
                )
            )
        return {node: tuple(entries) for node, entries in result.items()}

    def _fallback_devices(self, node: str) -> tuple[DeviceEntry, ...]:
        spec = self._fallback.get(node)
        if spec is None:
            return ()
        return plan_from_spec(node, "", spec).devices

    # --- conflicts between clusters --------------------------------------------------

    def _update_exclusions(
        self, dirty: set[str], old_layouts: Mapping[str, ClusterLayout | None]
    ) -> set[str]:
        """Re-derive the exclusions every changed cluster takes part in.

        Returns the source clusters whose set of non-routed CIDRs may have changed.
        """
        touched: set[str] = set(dirty)
        for name in dirty:
            old = old_layouts[name]
            if old is not None:
                for network in old.own_networks:
                    self._own_index.discard(network, name)
                for family_cidrs in old.route_cidrs.values():
                    for cidr in family_cidrs:
                        self._export_index.discard(parse_network(cidr), (name, cidr))
            new = self._layouts.get(name)
            if new is not None:
                for network in new.own_networks:
                    self._own_index.add(network, name)
                for family_cidrs in new.route_cidrs.values():
                    for cidr in family_cidrs:
                        self._export_index.add(parse_network(cidr), (name, cidr))
        for receiver in dirty:
            for source in list(self._exclusions.by_receiver.get(receiver, {})):
                self._exclusions.set(receiver, source, frozenset())
                touched.add(source)
            layout = self._layouts.get(receiver)
            if layout is None:
                continue
            found: dict[str, set[str]] = {}
            for network in layout.own_networks:
                for source, cidr in self._export_index.overlapping(network):
                    if source != receiver:
                        found.setdefault(source, set()).add(cidr)
            for source, cidrs in found.items():
                self._exclusions.set(receiver, source, frozenset(cidrs))
                touched.add(source)
        for source in dirty:
            for receiver in list(self._exclusions.by_source.get(source, set())):
                if receiver not in dirty:
                    self._exclusions.set(receiver, source, frozenset())
            layout = self._layouts.get(source)
            if layout is None:
                continue
            found = {}
            for family_cidrs in layout.route_cidrs.values():
                for cidr in family_cidrs:
                    for receiver in self._own_index.overlapping(parse_network(cidr)):
                        if receiver != source and receiver not in dirty:
                            found.setdefault(receiver, set()).add(cidr)
            for receiver, cidrs in found.items():
                self._exclusions.set(receiver, source, frozenset(cidrs))
        return touched

    def _update_totals(self, old_layouts: Mapping[str, ClusterLayout | None]) -> None:
        for name, old in old_layouts.items():
            new = self._layouts.get(name)
            for family in (4, 6):
                for layout, sign in ((old, -1), (new, 1)):
                    if layout is not None:
                        self._route_totals[family] += sign * len(layout.routes.get(family, ()))
                        self._vtep_totals[family] += sign * len(layout.vteps.get(family, ()))

    # --- node plans ------------------------------------------------------------------

    def _build_plan(self, node: str, layout: ClusterLayout) -> NodePlan:
        role = layout.roles[node]
        remote = None
        mesh = None
        if role.kind != "none" and role.families:
            remote = RemoteRoutes(self._snapshot, layout.name, role.families, role.via)
        if role.kind == "bridge" and role.families:
            mesh = BridgeMesh(self._snapshot, node, layout.name, role.families)
        return NodePlan(
            name=node,
            cluster=layout.name,
            devices=layout.devices[node],
            iptables=layout.iptables[node],
            own_fdbs=layout.local_fdbs[node],
            own_arps=layout.local_arps[node],
            remote_routes=remote,
            mesh=mesh,
        )

    def _replan(
        self,
        dirty: set[str],
        replaced: set[str],
        held: set[str],
        old_layouts: Mapping[str, ClusterLayout | None],
        old_exclusions: _Exclusions,
    ) -> tuple[dict[str, NodePlan], set[str]]:
        probe = _ChangeProbe(
            sorted(dirty), old_layouts, self._layouts, old_exclusions, self._exclusions
        )
        changed: dict[str, NodePlan] = {}
        removed: set[str] = set()
        for node in sorted(replaced | held):
            old = self._plans.get(node)
            if node in held:
                self._held.add(node)
                if old is None and node in self._fallback:
                    cluster_name = self._nodes[node].spec.cluster_name
                    self._plans[node] = plan_from_spec(node, cluster_name, self._fallback[node])
                    changed[node] = self._plans[node]
                continue
            self._held.discard(node)
            cluster = self._nodes[node].spec.cluster_name if node in self._nodes else None
            layout = self._layouts.get(cluster) if cluster is not None else None
            if layout is None or node not in layout.roles:
                if old is not None:
                    del self._plans[node]
                    removed.add(node)
                self._previous.pop(node, None)
                continue
            new = self._build_plan(node, layout)
            self._plans[node] = new
            self._previous[node] = {d.name: d for d in new.devices}
            if old is None or self._plan_differs(old, new, probe):
                changed[node] = new
        for node in self._affected_elsewhere(probe):
            layout = self._layouts[self._nodes[node].spec.cluster_name]
            self._plans[node] = changed[node] = self._build_plan(node, layout)
        return changed, removed

    def _affected_elsewhere(self, probe: _ChangeProbe) -> list[str]:
        """Nodes of unchanged clusters whose entries differ because changed clusters'
        exported routes or VTEPs differ (after that node's cluster's exclusions)."""
        general = {
            (kind, family): probe.differs(kind, family)
            for kind in ("routes", "cidrs", "vteps")
            for family in (4, 6)
        }
        special: set[str] = set()
        for name in probe.sources:
            special |= probe.old_exclusions.by_source.get(name, set())
            special |= probe.new_exclusions.by_source.get(name, set())
        affected: list[str] = []
        for cluster, layout in self._layouts.items():
            if cluster in probe.sources:
                continue
            own = general
            if cluster in special:
                own = {
                    (kind, family): probe.differs(kind, family, receiver=cluster)
                    for kind, family in general
                }
            if not any(own.values()):
                continue
            for node, role in layout.roles.items():
                if role.kind == "bridge":
                    hit = any(own[("routes", f)] or own[("vteps", f)] for f in role.families)
                else:
                    hit = any(own[("cidrs", f)] for f in role.families)
                if hit:
                    affected.append(node)
        return affected

    @staticmethod
    def _plan_differs(old: NodePlan, new: NodePlan, probe: _ChangeProbe) -> bool:
        """Whether two plans of a node of a changed cluster differ, without enumerating
        the shared blocks unless the node's role itself changed."""
        if old.own_routes or new.own_routes:  # a kept (held) plan: compare everything
            return old.entry_sets() != new.entry_sets()
        for field_name in ("devices", "iptables", "own_fdbs", "own_arps"):
            if set(getattr(old, field_name)) != set(getattr(new, field_name)):
                return True
        routes_old, routes_new = old.remote_routes, new.remote_routes
        if _view_key(routes_old) != _view_key(routes_new):
            if frozenset(old.routes()) != frozenset(new.routes()):
                return True
        elif routes_new is not None:
            kind = "cidrs" if routes_new.via else "routes"
            for family in routes_new.families:
                if probe.differs(kind, family, receiver=routes_new.cluster):
                    return True
        mesh_old, mesh_new = old.mesh, new.mesh
        if _mesh_key(mesh_old) != _mesh_key(mesh_new):
            return frozenset(old.fdbs()) != frozenset(new.fdbs()) or frozenset(
                old.arps()
            ) != frozenset(new.arps())
        if mesh_new is not None:
            return any(probe.differs("vteps", f, node=mesh_new.node) for f in mesh_new.families)
        return False

    # --- problems --------------------------------------------------------------------

    def _update_problems(
        self,
        dirty: set[str],
        checks: Mapping[str, tuple[ClusterCheck | None, Mapping[str, NodeCheck]]],
        node_problems: Mapping[str, list[Problem]],
        touched_targets: set[str],
        gone_nodes: set[str],
    ) -> dict[ObjectRef, tuple[Problem, ...]]:
        updates: dict[ObjectRef, tuple[Problem, ...]] = {
            ObjectRef("ClusterNode", node): () for node in gone_nodes
        }
        for name in dirty | touched_targets:
            ref = ObjectRef("Cluster", name)
            if name in dirty:
                cluster_check = checks[name][0]
                base = cluster_check.problems if cluster_check is not None else ()
            else:
                base = tuple(p for p in self._problems.get(ref, ()) if p.field != _CONFLICT_FIELD)
            updates[ref] = base + self._conflict_problems(name)
        for node, found in node_problems.items():
            updates[ObjectRef("ClusterNode", node)] = tuple(found)
        for name in dirty:
            for node in checks[name][1]:
                updates.setdefault(ObjectRef("ClusterNode", node), ())
        delta: dict[ObjectRef, tuple[Problem, ...]] = {}
        for ref, problems in updates.items():
            if self._problems.get(ref, ()) != problems:
                delta[ref] = problems
            if problems:
                self._problems[ref] = problems
            else:
                self._problems.pop(ref, None)
        return delta

    def _conflict_problems(self, source: str) -> tuple[Problem, ...]:
        receivers_of: dict[str, list[str]] = {}
        for receiver in sorted(self._exclusions.by_source.get(source, set())):
            for cidr in self._exclusions.get(receiver, source):
                receivers_of.setdefault(cidr, []).append(receiver)
        problems = []
        for cidr, receivers in sorted(receivers_of.items()):
            listed = ", ".join(receivers[:_MAX_LISTED_RECEIVERS])
            more = len(receivers) - _MAX_LISTED_RECEIVERS
            if more > 0:
                listed += f" and {more} more"
            problems.append(
                Problem(
                    ObjectRef("Cluster", source),
                    _CONFLICT_FIELD,
                    f"{cidr} is not routed to cluster(s) {listed}: it overlaps their own pod "
                    "or service CIDRs; map it to a free range in globalCIDRsMap",
                    "warning",
                )
            )
        return tuple(problems)


_CONFLICT_FIELD = "spec.clusterLinkOptions.globalCIDRsMap"


@dataclass(frozen=True)
class _ChangeProbe:
    """Answers "did what X receives from the changed clusters change?" for one change.

    Entries are compared as the union over all changed clusters, so an entry that only
    moved between two changed clusters (a node changing clusters) changes nothing.
    """

    sources: list[str]
    old_layouts: Mapping[str, ClusterLayout | None]
    new_layouts: Mapping[str, ClusterLayout]
    old_exclusions: _Exclusions
    new_exclusions: _Exclusions

    def differs(
        self, kind: str, family: int, *, receiver: str | None = None, node: str | None = None
    ) -> bool:
        """``kind``: "routes" (bridge receivers), "cidrs" (internal receivers) or "vteps".

        With ``receiver``, that cluster's own exclusions apply (old ones to the old side)
        and clusters whose exclusions toward it changed count as changed too; with
        ``node``, that node's own VTEP is left out (nobody meshes with itself).
        """
        sources = set(self.sources)
        if receiver is not None and kind != "vteps":
            before = self.old_exclusions.by_receiver.get(receiver, {})
            after = self.new_exclusions.by_receiver.get(receiver, {})
            sources |= {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}
            sources.discard(receiver)
        old, new = (
            self._entries(
                side, kind=kind, family=family, receiver=receiver, node=node, sources=sources
            )
            for side in (0, 1)
        )
        return old != new

    def _layout(self, side: int, name: str) -> ClusterLayout | None:
        if side == 0 and name in self.old_layouts:
            return self.old_layouts[name]
        return self.new_layouts.get(name)

    def _entries(
        self,
        side: int,
        *,
        kind: str,
        family: int,
        receiver: str | None,
        node: str | None,
        sources: set[str],
    ) -> set[Any]:
        exclusions = self.old_exclusions if side == 0 else self.new_exclusions
        entries: set[Any] = set()
        for name in sources:
            layout = self._layout(side, name)
            if layout is None:
                continue
            if kind == "vteps":
                entries.update(v for v in layout.vteps.get(family, ()) if v.node != node)
                continue
            routes = layout.routes.get(family, ())
            if receiver is not None:
                skipped = exclusions.get(receiver, name)
                routes = tuple(r for r in routes if r.cidr not in skipped)
            entries.update(r.cidr for r in routes) if kind == "cidrs" else entries.update(routes)
        return entries


def _view_key(view: RemoteRoutes | None) -> tuple[Any, ...] | None:
    return None if view is None else (view.cluster, view.families, dict(view.via))


def _mesh_key(view: BridgeMesh | None) -> tuple[Any, ...] | None:
    return None if view is None else (view.node, view.cluster, view.families)


def _valid_address(previous: DeviceEntry | None, request: DeviceRequest) -> IPAddress | None:
    """The previous address of a device, if it still fits the device's address space."""
    if previous is None:
        return None
    try:
        address = ipaddress.ip_interface(previous.addr).ip
    except ValueError:
        return None
    if address.version != request.family or address not in request.space:
        return None
    if previous.addr.split("/", 1)[1:] != [str(request.space.prefixlen)]:
        return None
    return address


def plan_federation(
    clusters: Iterable[Cluster],
    nodes: Iterable[ClusterNode],
    previous: Mapping[str, NodeConfigSpec] | None = None,
    mac_source: MacSource = random_mac,
) -> FederationPlan:
    """The desired ``NodeConfig.spec`` of every node of a federation (full computation)."""
    return Planner(mac_source).load(clusters, nodes, previous)
