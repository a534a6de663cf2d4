"""The elector: the node running the leading replica is its cluster's gateway.

Two replicas per member cluster compete for the Lease ``kosmos-system/elector`` in the
*member* store (:class:`~.leader.LeaderElector`, fast timings). The leader's
:class:`GatewayRoleKeeper` keeps the ``gateway`` role on its own node's ClusterNode
``<cluster>-<node>`` in the *control* store and off every other ClusterNode of the cluster;
a follower only waits. Unlike upstream, the keeper is level-triggered (it watches the
cluster's ClusterNodes, so a role changed by hand is repaired at once), waits for its own
ClusterNode to appear instead of leaving the cluster without a gateway, and changes only
``spec.roles``, keeping any other role, with optimistic concurrency.

Order of the two writes of a switch: the new node gains the role *first*, then the others
lose it. The network-manager elects the first role holder by name, so in between it still
sees exactly one gateway (the old one, or already the new one), and the elected gateway
changes once, in one step. Removing first would pass through a state with *no* gateway,
which the network-manager would publish to every NodeConfig of the federation (all routes
toward this cluster withdrawn, then restored): two rounds of changes and a real outage.
And if the leader dies between the two writes, two holders is a working state; none is not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from clusterlink.api.constants import ROLE_GATEWAY
from clusterlink.controllers.informer import Informer
from clusterlink.controllers.leader import LeaderElector, LeaseTiming
from clusterlink.controllers.queue import Backoff
from clusterlink.store.errors import ConflictError, NotFoundError, StoreError
from clusterlink.store.protocol import EventType, ObjectStore

log = logging.getLogger(__name__)

LEASE_NAME = "elector"
LEASE_NAMESPACE = "kosmos-system"
_CONFLICT_ATTEMPTS = 5


def has_gateway_role(roles: list[str]) -> bool:
    """Case-insensitive, as the network-manager reads it."""
    return any(role.lower() == ROLE_GATEWAY for role in roles)


def roles_with_gateway(roles: list[str], gateway: bool) -> list[str]:
    """``roles`` with the gateway role added or removed, other roles kept in order."""
    others = [role for role in roles if role.lower() != ROLE_GATEWAY]
    return [*others, ROLE_GATEWAY] if gateway else others


def roles_of(cluster_node: Mapping[str, Any]) -> list[str]:
    return [str(role) for role in (cluster_node.get("spec") or {}).get("roles") or []]


def cluster_of(cluster_node: Mapping[str, Any]) -> str:
    return str((cluster_node.get("spec") or {}).get("clusterName") or "")


@dataclass
class ElectorMetrics:
    """The gateway this replica made, its role writes and failed passes."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = "clusterlink_elector"
        self.gateway = Gauge(
            f"{prefix}_gateway",
            "1 for the node this leader keeps as its cluster's gateway",
            ["cluster", "node"],
            registry=self.registry,
        )
        self.role_writes = Counter(
            f"{prefix}_role_writes_total",
            "Gateway roles added to or removed from ClusterNodes",
            ["operation"],
            registry=self.registry,
        )
        self.failures = Counter(
            f"{prefix}_failures_total",
            "Passes that failed (retried with backoff)",
            registry=self.registry,
        )
        self.waiting = Gauge(
            f"{prefix}_waiting_for_clusternode",
            "1 while the leader's own ClusterNode does not exist yet",
            registry=self.registry,
        )


@dataclass
class GatewayRoleKeeper:
    """The leader's work: gateway role on its node's ClusterNode, on no other of its cluster.

    Restartable: each :meth:`start` begins a fresh watch, so a replica that leads again
    after a pause needs no new keeper.
    """

    store: ObjectStore
    cluster: str
    node: str
    resync_period: float = 30.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.1, cap=5.0))
    metrics: ElectorMetrics = field(default_factory=ElectorMetrics)
    _informer: Informer | None = None
    _dirty: threading.Event = field(default_factory=threading.Event)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _waiting: bool = False

    @property
    def own_name(self) -> str:
        return f"{self.cluster}-{self.node}"

    @property
    def ready(self) -> bool:
        """Leading with a synced cache."""
        informer = self._informer
        return informer is not None and informer.has_synced and not self._stopping.is_set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = threading.Event()
            self._dirty.set()
            self._informer = Informer(self.store, "ClusterNode", self._on_event)
            self._informer.start()
            self._thread = threading.Thread(
                target=self._run,
                args=(self._informer, self._stopping),
                name="gateway-role",
                daemon=True,
            )
            self._thread.start()
        log.info("leading: keeping the gateway role of %s on %s", self.cluster, self.own_name)

    def stop(self) -> None:
        with self._lock:
            thread, informer = self._thread, self._informer
            self._thread = None
            self._stopping.set()
            self._dirty.set()
        if informer is not None:
            informer.stop()
        if thread is not None:
            thread.join(timeout=10)
        self.metrics.gateway.clear()
        self._set_waiting(False)

    def _set_waiting(self, waiting: bool) -> None:
        self._waiting = waiting
        self.metrics.waiting.set(1 if waiting else 0)

    def _on_event(self, event_type: EventType, obj: dict[str, Any]) -> None:
        if cluster_of(obj) == self.cluster or obj["metadata"]["name"] == self.own_name:
            self._dirty.set()

    def _run(self, informer: Informer, stopping: threading.Event) -> None:
        while not informer.wait_for_sync(0.5):
            if stopping.is_set():
                return
        failures = 0
        while not stopping.is_set():
            self._dirty.wait(self.resync_period)
            self._dirty.clear()
            if stopping.is_set():
                return
            try:
                self.keep_gateway(informer.items())
                failures = 0
            except StoreError as exc:
                self.metrics.failures.inc()
                delay = self.backoff.delay(failures)
                failures += 1
                log.warning("keeping the gateway role failed (%s); retrying in %.2fs", exc, delay)
                stopping.wait(delay)
                self._dirty.set()

    def keep_gateway(self, cluster_nodes: list[dict[str, Any]]) -> None:
        """One pass over the cached ClusterNodes: add the own role first, then remove others'.

        Without its own ClusterNode yet, the leader changes nothing: an old gateway is
        better than none, and the ClusterNode's creation wakes the keeper up.
        """
        own = next((cn for cn in cluster_nodes if cn["metadata"]["name"] == self.own_name), None)
        if own is None or cluster_of(own) != self.cluster:
            if not self._waiting:
                log.info("waiting for ClusterNode %s before taking the gateway role", self.own_name)
            self._set_waiting(True)
            return
        self._set_waiting(False)
        if not has_gateway_role(roles_of(own)):
            self._set_gateway(self.own_name, gateway=True)
        self.metrics.gateway.labels(self.cluster, self.node).set(1)
        for other in cluster_nodes:
            name = other["metadata"]["name"]
            if (
                name != self.own_name
                and cluster_of(other) == self.cluster
                and has_gateway_role(roles_of(other))
            ):
                self._set_gateway(name, gateway=False)

    def _set_gateway(self, name: str, *, gateway: bool) -> None:
        """Add or remove the role on the stored object, retrying on conflicting writes."""
        for _ in range(_CONFLICT_ATTEMPTS):
            try:
                current = self.store.get("ClusterNode", name)
            except NotFoundError:
                return
            roles = roles_of(current)
            wanted = roles_with_gateway(roles, gateway)
            if wanted == roles:
                return
            patch = {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                "spec": {"roles": wanted},
            }
            try:
                self.store.patch("ClusterNode", name, patch)
            except ConflictError:
                continue
            except NotFoundError:
                return
            operation = "add" if gateway else "remove"
            self.metrics.role_writes.labels(operation).inc()
            log.info("gateway role %s: %s", "added to" if gateway else "removed from", name)
            return
        raise ConflictError(
            f"ClusterNode {name!r} kept changing; gave up after {_CONFLICT_ATTEMPTS} attempts",
            kind="ClusterNode",
            name=name,
        )


def gateway_elector(
    keeper: GatewayRoleKeeper,
    member: ObjectStore,
    identity: str,
    timing: LeaseTiming | None = None,
) -> LeaderElector:
    """A candidate in the member store that runs ``keeper`` while it leads (in-process use;
    ``clusterlink elector`` exits instead when it loses the lease, as client-go does)."""
    return LeaderElector(
        member,
        LEASE_NAME,
        LEASE_NAMESPACE,
        identity,
        timing or LeaseTiming(),
        on_started_leading=keeper.start,
        on_stopped_leading=keeper.stop,
    )
