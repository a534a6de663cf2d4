"""The controller-manager: a member cluster's Nodes and CIDRs, published to the control plane.

One runs per member cluster. It reads the *member* store (Nodes; kube-system Pods for the
apiserver's flags; Calico IPPools; flannel's ConfigMap) and writes to the *control* store:

- every Node becomes the ClusterNode ``<cluster>-<node>`` (label ``kosmos.io/cluster``,
  ``clusterName``, ``nodeName``, ``podCIDRs``, and the InternalIPs until the agent reports
  its own). Fields other writers own are never overwritten: ``roles`` belong to the elector,
  ``interfaceName``/``ip``/``ip6`` to the agent once set. Nodes labelled
  ``kosmos.io/exclude=true`` (and Kosmos virtual nodes) get none, and ClusterNodes are removed
  with their Node or with the Cluster; only ClusterNodes labelled with this cluster are ever
  deleted;
- the pod and service CIDRs (:mod:`.cidr_discovery`) go to ``Cluster.status.clusterLinkStatus``
  with a ``CIDRsDiscovered`` condition saying where they came from or why they were not
  found. A malformed source keeps the last good value; nothing is written when nothing
  changed;
- with Calico, every remote CIDR this cluster routes into the tunnels (the routes of its own
  NodeConfigs, read from the *control* store) becomes a disabled Calico IPPool in the
  *member* store (:mod:`.calico_pools`), so Calico's ``natOutgoing`` leaves cross-cluster
  pod traffic alone. Pools of ours no longer wanted (CNI not Calico, Cluster gone) are
  removed; other pools are never touched.

Level-triggered as every controller here: events only queue keys (``("Node", name)``,
``("Cluster", name)`` or ``("IPPools", name)``) and a worker compares the desired state
with the stored one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from clusterlink.api.constants import API_VERSION, LABEL_CLUSTER, LABEL_EXCLUDE
from clusterlink.controllers.calico_pools import (
    PoolChanges,
    WantedPools,
    cni_of,
    pool_changes,
    remote_cidrs,
    wanted_pools,
)
from clusterlink.controllers.cidr_discovery import (
    FLANNEL_CONFIGMAP,
    Finding,
    discover_pod_cidrs,
    discover_service_cidrs,
    is_apiserver_pod,
    pod_cidrs_of,
)
from clusterlink.controllers.informer import Informer
from clusterlink.controllers.queue import WorkQueue
from clusterlink.store.errors import AlreadyExistsError, ConflictError, NotFoundError, StoreError
from clusterlink.store.protocol import EventType, ObjectStore

log = logging.getLogger(__name__)

CONDITION_CIDRS = "CIDRsDiscovered"
LABEL_VIRTUAL_NODE = "kosmos.io/node"
KUBE_SYSTEM = "kube-system"

WorkKey = tuple[str, str]  # ("Node", node name), ("Cluster" or "IPPools", cluster name)


# --- Node -> ClusterNode -------------------------------------------------------------------


def is_member_node(node: Mapping[str, Any] | None) -> bool:
    """A Node that should have a ClusterNode: present, not leaving, not excluded, not virtual."""
    if node is None:
        return False
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return (
        not metadata.get("deletionTimestamp")
        and labels.get(LABEL_EXCLUDE) != "true"
        and labels.get(LABEL_VIRTUAL_NODE) != "true"
    )


def internal_ips(node: Mapping[str, Any]) -> tuple[str, str]:
    """The first IPv4 and the first IPv6 ``InternalIP`` of a Node ("" when absent)."""
    addresses = [
        str(entry.get("address") or "")
        for entry in (node.get("status") or {}).get("addresses") or []
        if entry.get("type") == "InternalIP"
    ]
    ipv4 = next((a for a in addresses if a and ":" not in a), "")
    ipv6 = next((a for a in addresses if ":" in a), "")
    return ipv4, ipv6


def cluster_node_name(cluster: str, node: str) -> str:
    return f"{cluster}-{node}"


def new_cluster_node(cluster: str, node: Mapping[str, Any]) -> dict[str, Any]:
    """The ClusterNode to create for a Node."""
    name = node["metadata"]["name"]
    ipv4, ipv6 = internal_ips(node)
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterNode",
        "metadata": {"name": cluster_node_name(cluster, name), "labels": {LABEL_CLUSTER: cluster}},
        "spec": {
            "clusterName": cluster,
            "nodeName": name,
            "podCIDRs": [str(cidr) for cidr in pod_cidrs_of(node)],
            "ip": ipv4,
            "ip6": ipv6,
        },
    }


def cluster_node_patch(
    cluster: str, node: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The merge patch that brings ``current`` in line with the Node ({} when it is)."""
    labels = (current.get("metadata") or {}).get("labels") or {}
    spec = current.get("spec") or {}
    ipv4, ipv6 = internal_ips(node)
    wanted: dict[str, Any] = {
        "clusterName": cluster,
        "nodeName": node["metadata"]["name"],
        "podCIDRs": [str(cidr) for cidr in pod_cidrs_of(node)],
    }
    if ipv4 and not spec.get("ip"):
        wanted["ip"] = ipv4
    if ipv6 and not spec.get("ip6"):
        wanted["ip6"] = ipv6
    patch: dict[str, Any] = {}
    changed = {key: value for key, value in wanted.items() if spec.get(key) != value}
    if changed:
        patch["spec"] = changed
    if labels.get(LABEL_CLUSTER) != cluster:
        patch["metadata"] = {"labels": {LABEL_CLUSTER: cluster}}
    return patch


def foreign_cluster(cluster: str, current: Mapping[str, Any]) -> str:
    """The other cluster a ClusterNode already belongs to ("" when none): names like
    ``a-b-x`` can be node ``b-x`` of cluster ``a`` or node ``x`` of cluster ``a-b``."""
    labelled = ((current.get("metadata") or {}).get("labels") or {}).get(LABEL_CLUSTER) or ""
    named = (current.get("spec") or {}).get("clusterName") or ""
    return next((other for other in (labelled, named) if other and other != cluster), "")


# --- CIDRs -> Cluster.status ---------------------------------------------------------------


def link_status_of(cluster: Mapping[str, Any]) -> dict[str, list[str]]:
    link = (cluster.get("status") or {}).get("clusterLinkStatus") or {}
    return {
        "podCIDRs": list(link.get("podCIDRs") or []),
        "serviceCIDRs": list(link.get("serviceCIDRs") or []),
    }


def wanted_link_status(
    current: Mapping[str, list[str]], pods: Finding, services: Finding
) -> dict[str, list[str]]:
    """What was found; the current value where nothing (valid) was."""
    return {
        "podCIDRs": list(pods.cidrs) if pods.outcome == "found" else list(current["podCIDRs"]),
        "serviceCIDRs": (
            list(services.cidrs) if services.outcome == "found" else list(current["serviceCIDRs"])
        ),
    }


def _describe(what: str, finding: Finding, kept: list[str]) -> str:
    if finding.outcome == "found":
        return f"{what} {', '.join(finding.cidrs)} from {finding.detail}"
    keeping = f"; keeping {', '.join(kept)}" if kept else ""
    if finding.outcome == "invalid":
        return f"{what} not updated: {finding.detail}{keeping}"
    return f"{what} not found: {finding.detail}{keeping}"


def cidrs_condition(
    pods: Finding, services: Finding, link: Mapping[str, list[str]], now: str
) -> dict[str, Any]:
    """The ``CIDRsDiscovered`` condition: True when both kinds were found."""
    outcomes = {pods.outcome, services.outcome}
    if "invalid" in outcomes:
        status, reason = "False", "InvalidSource"
    elif "missing" in outcomes:
        status, reason = "False", "NotFound"
    else:
        status, reason = "True", "Discovered"
    message = "; ".join(
        (
            _describe("podCIDRs", pods, link["podCIDRs"]),
            _describe("serviceCIDRs", services, link["serviceCIDRs"]),
        )
    )
    return {
        "type": CONDITION_CIDRS,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    }


def same_condition(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    return current is not None and all(
        current.get(key) == wanted[key] for key in ("status", "reason", "message")
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- the controller ------------------------------------------------------------------------


@dataclass
class ControllerManagerMetrics:
    """Reconciles, writes and the backlog, per kind of work."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = "clusterlink_controller_manager"
        self.reconciles = Counter(
            f"{prefix}_reconciles_total",
            "Reconciles by kind of work and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            f"{prefix}_reconcile_seconds",
            "Time of one reconcile",
            ["kind"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10),
        )
        self.writes = Counter(
            f"{prefix}_writes_total",
            "Objects written (IPPools to the member store, the rest to the control store)",
            ["kind", "operation"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            f"{prefix}_queue_depth", "Keys waiting to be reconciled", registry=self.registry
        )
        self.conflicting_names = Counter(
            f"{prefix}_conflicting_names_total",
            "ClusterNodes left alone because another cluster owns the name",
            registry=self.registry,
        )
        self.calico_ippools = Gauge(
            f"{prefix}_calico_ippools",
            "Remote CIDRs declared as disabled Calico IPPools",
            registry=self.registry,
        )
        self.calico_ippools_skipped = Gauge(
            f"{prefix}_calico_ippools_skipped",
            "Remote CIDRs declared by no IPPool: they overlap a pool that is not ours",
            registry=self.registry,
        )


@dataclass
class ControllerManager:
    control: ObjectStore
    member: ObjectStore
    cluster: str
    workers: int = 2
    metrics: ControllerManagerMetrics = field(default_factory=ControllerManagerMetrics)
    writes: int = 0
    _member: dict[str, Informer] = field(default_factory=dict)
    _control: dict[str, Informer] = field(default_factory=dict)
    _queue: WorkQueue[WorkKey] = field(default_factory=WorkQueue)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _cluster_present: bool = False
    _pools_reported: WantedPools | None = None

    def __post_init__(self) -> None:
        self.metrics.queue_depth.set_function(lambda: len(self._queue))
        self._member = {
            "Node": Informer(self.member, "Node", self._on_node),
            "Pod": Informer(self.member, "Pod", self._on_pod, namespace=KUBE_SYSTEM),
            "IPPool": Informer(self.member, "IPPool", self._on_ippool, optional=True),
            "ConfigMap": Informer(
                self.member,
                "ConfigMap",
                self._on_cidr_source,
                field_selector=f"metadata.name={FLANNEL_CONFIGMAP}",
            ),
        }
        self._control = {
            "Cluster": Informer(
                self.control,
                "Cluster",
                self._on_cluster,
                field_selector=f"metadata.name={self.cluster}",
            ),
            "ClusterNode": Informer(
                self.control,
                "ClusterNode",
                self._on_cluster_node,
                label_selector=f"{LABEL_CLUSTER}={self.cluster}",
            ),
            "NodeConfig": Informer(
                self.control,
                "NodeConfig",
                self._on_node_config,
                label_selector=f"{LABEL_CLUSTER}={self.cluster}",
            ),
        }

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Every cache synced."""
        return all(informer.has_synced for informer in self._informers())

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _informers(self) -> list[Informer]:
        return [*self._member.values(), *self._control.values()]

    def start(self) -> None:
        for informer in self._informers():
            informer.start()
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._work, name=f"controller-manager-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.shutdown()
        for informer in self._informers():
            informer.stop()
        for thread in self._threads:
            thread.join(timeout=10)

    # --- events: only queue keys -------------------------------------------------------

    def _cidrs_key(self) -> WorkKey:
        return ("Cluster", self.cluster)

    def _pools_key(self) -> WorkKey:
        return ("IPPools", self.cluster)

    def _on_node(self, event_type: EventType, obj: dict[str, Any]) -> None:
        self._queue.add(("Node", obj["metadata"]["name"]))
        self._queue.add(self._cidrs_key())

    def _on_pod(self, event_type: EventType, obj: dict[str, Any]) -> None:
        if is_apiserver_pod(obj):
            self._queue.add(self._cidrs_key())

    def _on_cidr_source(self, event_type: EventType, obj: dict[str, Any]) -> None:
        self._queue.add(self._cidrs_key())

    def _on_ippool(self, event_type: EventType, obj: dict[str, Any]) -> None:
        self._queue.add(self._cidrs_key())
        self._queue.add(self._pools_key())

    def _on_node_config(self, event_type: EventType, obj: dict[str, Any]) -> None:
        self._queue.add(self._pools_key())

    def _on_cluster_node(self, event_type: EventType, obj: dict[str, Any]) -> None:
        self._queue.add(self._pools_key())  # its NodeConfig's routes count only while it exists
        prefix = cluster_node_name(self.cluster, "")
        name = str(obj["metadata"]["name"])
        if name.startswith(prefix):
            self._queue.add(("Node", name.removeprefix(prefix)))

    def _on_cluster(self, event_type: EventType, obj: dict[str, Any]) -> None:
        self._queue.add(self._cidrs_key())
        self._queue.add(self._pools_key())
        present = event_type != "DELETED" and not obj["metadata"].get("deletionTimestamp")
        if present != self._cluster_present:
            self._cluster_present = present
            self._queue_every_node()

    def _queue_every_node(self) -> None:
        prefix = cluster_node_name(self.cluster, "")
        names = {node["metadata"]["name"] for node in self._member["Node"].items()}
        names |= {
            str(cn["metadata"]["name"]).removeprefix(prefix)
            for cn in self._control["ClusterNode"].items()
            if str(cn["metadata"]["name"]).startswith(prefix)
        }
        for name in names:
            self._queue.add(("Node", name))

    # --- the worker --------------------------------------------------------------------

    def _work(self) -> None:
        for informer in self._informers():
            while not informer.wait_for_sync(0.5):
                if self._stopping.is_set():
                    return
        while not self._stopping.is_set():
            key = self._queue.get(timeout=0.5)
            if key is None:
                continue
            started = time.perf_counter()
            try:
                if key[0] == "Node":
                    self._sync_cluster_node(key[1])
                elif key[0] == "IPPools":
                    self._sync_pools()
                else:
                    self._sync_cidrs()
                self._queue.forget(key)
                self.metrics.reconciles.labels(key[0], "ok").inc()
            except StoreError as exc:
                self.metrics.reconciles.labels(key[0], "error").inc()
                delay = self._queue.retry(key)
                # A conflict usually means the cache has not yet seen our own last write.
                level = logging.DEBUG if isinstance(exc, ConflictError) else logging.WARNING
                log.log(level, "reconciling %s %s failed (%s); retrying in %.2fs", *key, exc, delay)
            finally:
                self.metrics.reconcile_seconds.labels(key[0]).observe(time.perf_counter() - started)
                self._queue.done(key)

    def _wrote(self, kind: str, operation: str) -> None:
        self.writes += 1
        self.metrics.writes.labels(kind, operation).inc()

    def _cluster(self) -> dict[str, Any] | None:
        """The own Cluster, unless it is missing or being deleted."""
        cluster = self._control["Cluster"].get(self.cluster)
        if cluster is None or cluster["metadata"].get("deletionTimestamp"):
            return None
        return cluster

    # --- Node -> ClusterNode -----------------------------------------------------------

    def _sync_cluster_node(self, node_name: str) -> None:
        node = self._member["Node"].get(node_name)
        name = cluster_node_name(self.cluster, node_name)
        cached = self._control["ClusterNode"].get(name)
        if node is None or self._cluster() is None or not is_member_node(node):
            if cached is not None:
                self._remove_cluster_node(name)
            return
        if cached is not None and not cluster_node_patch(self.cluster, node, cached):
            return
        try:
            current = self.control.get("ClusterNode", name)
        except NotFoundError:
            self.control.create(new_cluster_node(self.cluster, node))
            self._wrote("ClusterNode", "create")
            log.info("ClusterNode %s created for Node %s", name, node_name)
            return
        other = foreign_cluster(self.cluster, current)
        if other:
            self.metrics.conflicting_names.inc()
            log.warning(
                "ClusterNode %s belongs to cluster %s; Node %s of cluster %s gets none",
                name,
                other,
                node_name,
                self.cluster,
            )
            return
        patch = cluster_node_patch(self.cluster, node, current)
        if patch:
            precondition = {"resourceVersion": current["metadata"]["resourceVersion"]}
            patch["metadata"] = {**patch.get("metadata", {}), **precondition}
            self.control.patch("ClusterNode", name, patch)
            self._wrote("ClusterNode", "update")

    def _remove_cluster_node(self, name: str) -> None:
        try:
            current = self.control.get("ClusterNode", name)
        except NotFoundError:
            return
        labels = current["metadata"].get("labels") or {}
        if labels.get(LABEL_CLUSTER) != self.cluster:
            return
        try:
            self.control.delete(
                "ClusterNode", name, resource_version=current["metadata"]["resourceVersion"]
            )
        except NotFoundError:
            return
        self._wrote("ClusterNode", "delete")
        log.info("ClusterNode %s removed", name)

    # --- CIDRs -> Cluster.status -------------------------------------------------------

    def _sync_cidrs(self) -> None:
        cluster = self._cluster()
        if cluster is None:
            return
        pods = discover_pod_cidrs(
            cluster,
            self._member["IPPool"].items(),
            self._member["ConfigMap"].items(),
            self._member["Node"].items(),
        )
        services = discover_service_cidrs(cluster, self._member["Pod"].items())
        current = link_status_of(cluster)
        link = wanted_link_status(current, pods, services)
        conditions = list((cluster.get("status") or {}).get("conditions") or [])
        stored = next((c for c in conditions if c.get("type") == CONDITION_CIDRS), None)
        wanted = cidrs_condition(pods, services, link, _now())
        if link == current and same_condition(stored, wanted):
            return
        if stored is not None and stored.get("status") == wanted["status"]:
            wanted["lastTransitionTime"] = stored.get(
                "lastTransitionTime", wanted["lastTransitionTime"]
            )
        others = [c for c in conditions if c.get("type") != CONDITION_CIDRS]
        self.control.patch_status(
            "Cluster",
            self.cluster,
            {
                "metadata": {"resourceVersion": cluster["metadata"]["resourceVersion"]},
                "status": {"clusterLinkStatus": link, "conditions": [*others, wanted]},
            },
        )
        self._wrote("Cluster", "status")
        log.info("Cluster %s: %s", self.cluster, wanted["message"])

    # --- remote CIDRs -> disabled Calico IPPools ----------------------------------------

    def _wanted_pools(self) -> WantedPools:
        cluster = self._cluster()
        if cluster is None:
            return WantedPools(idle=f"Cluster {self.cluster} is missing or being deleted")
        nodes = {str(cn["metadata"]["name"]) for cn in self._control["ClusterNode"].items()}
        remote = remote_cidrs(self._control["NodeConfig"].items(), nodes)
        return wanted_pools(cni_of(cluster), remote, self._member["IPPool"].items())

    def _sync_pools(self) -> None:
        wanted = self._wanted_pools()
        self._report_pools(wanted)
        self._apply_pools(pool_changes(wanted.cidrs, self._member["IPPool"].items()))

    def _report_pools(self, wanted: WantedPools) -> None:
        """Gauges always; a log line only when what is wanted or skipped changed."""
        self.metrics.calico_ippools.set(len(wanted.cidrs))
        self.metrics.calico_ippools_skipped.set(len(wanted.skipped))
        if wanted == self._pools_reported:
            return
        self._pools_reported = wanted
        for skipped in wanted.skipped:
            log.warning("Cluster %s: %s", self.cluster, skipped)
        if wanted.idle:
            log.info("Cluster %s: no IPPools for remote CIDRs: %s", self.cluster, wanted.idle)
        else:
            log.info(
                "Cluster %s: remote CIDRs declared as disabled Calico IPPools: %s",
                self.cluster,
                ", ".join(wanted.cidrs) or "none",
            )

    def _apply_pools(self, changes: PoolChanges) -> None:
        """Creates first and deletes last, so a CIDR merged into a larger pool is never
        left undeclared in between. A create or delete someone else did first is fine:
        its watch event brings the key back."""
        for document in changes.create:
            try:
                self.member.create(document)
            except AlreadyExistsError:
                continue
            self._wrote("IPPool", "create")
            log.info(
                "IPPool %s created for remote CIDR %s",
                document["metadata"]["name"],
                document["spec"]["cidr"],
            )
        for document in changes.update:
            self.member.update(document)
            self._wrote("IPPool", "update")
            log.info("IPPool %s restored", document["metadata"]["name"])
        for ref in changes.delete:
            try:
                self.member.delete("IPPool", ref.name, resource_version=ref.resource_version)
            except NotFoundError:
                continue
            self._wrote("IPPool", "delete")
            log.info("IPPool %s removed", ref.name)
