"""The network-manager: keeps every ``NodeConfig`` equal to the planner's output.

Two loops, both level-triggered:
- *planning*: Cluster and ClusterNode events are batched into one incremental planner call;
  the NodeConfigs it reports changed, and the objects whose problems changed, are queued;
- *writing*: a worker takes a queued name, compares the planner's current plan with the
  stored object, and writes only when they differ (so a restart writes nothing when
  nothing changed). Failures are retried with backoff; a later change of the same object
  simply supersedes the earlier one.

Nothing that works is lost to bad input: an object update that cannot be parsed is
reported on the object's status and the last valid version stays in effect; nodes whose
input is invalid are *held* (their NodeConfig is kept as it is, never deleted for that).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from clusterlink.api.errors import InvalidObjectError, ObjectRef, Problem
from clusterlink.api.models import Cluster, ClusterNode, NodeConfigSpec
from clusterlink.api.serialization import parse_object
from clusterlink.controllers.informer import Informer
from clusterlink.controllers.queue import WorkQueue
from clusterlink.planner import Planner, random_mac
from clusterlink.planner.addressing import MacSource
from clusterlink.planner.plan import NodePlan, node_config_document
from clusterlink.store.errors import AlreadyExistsError, NotFoundError, StoreError
from clusterlink.store.protocol import EventType, ObjectStore

log = logging.getLogger(__name__)

CONDITION_VALID = "Valid"
_MAX_MESSAGE = 4096

WriteKey = tuple[str, str]  # (kind, name): ("NodeConfig", n) or ("Cluster"/"ClusterNode", n)


def _comparable_spec(spec: dict[str, Any]) -> dict[str, list[str]]:
    """A NodeConfig spec as sorted JSON texts per list: list order does not matter."""
    return {
        key: sorted(json.dumps(item, sort_keys=True) for item in spec.get(key) or [])
        for key in ("devices", "routes", "iptables", "fdbs", "arps")
    }


def _planning_input(document: dict[str, Any]) -> str:
    """What of an object the planner reads: not its metadata bookkeeping nor conditions."""
    status = {k: v for k, v in (document.get("status") or {}).items() if k != "conditions"}
    return json.dumps([document.get("spec"), status], sort_keys=True)


def valid_condition(problems: tuple[Problem, ...], now: str) -> dict[str, Any]:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        status, reason = "False", "InvalidFields"
    elif problems:
        status, reason = "True", "Warnings"
    else:
        status, reason = "True", "NoProblems"
    message = "; ".join(f"{p.severity}: {p.field}: {p.message}" for p in problems)
    return {
        "type": CONDITION_VALID,
        "status": status,
        "reason": reason,
        "message": message[:_MAX_MESSAGE],
        "lastTransitionTime": now,
    }


@dataclass
class NetworkManagerMetrics:
    """What operators watch: planning time, writes, failures, backlog."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = "clusterlink_network_manager"
        self.plan_seconds = Histogram(
            f"{prefix}_plan_seconds",
            "Time to apply one batch of changes to the plan",
            registry=self.registry,
            buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60),
        )
        self.changed_nodeconfigs = Counter(
            f"{prefix}_changed_nodeconfigs_total",
            "NodeConfigs the planner reported changed",
            registry=self.registry,
        )
        self.writes = Counter(
            f"{prefix}_writes_total",
            "Objects written",
            ["kind", "operation"],
            registry=self.registry,
        )
        self.write_errors = Counter(
            f"{prefix}_write_errors_total",
            "Failed writes (retried with backoff)",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            f"{prefix}_queue_depth", "Objects waiting to be written", registry=self.registry
        )
        self.problems = Gauge(
            f"{prefix}_problems",
            "Problems found in the input",
            ["severity"],
            registry=self.registry,
        )


@dataclass
class NetworkManager:
    store: ObjectStore
    mac_source: MacSource = random_mac
    workers: int = 2
    metrics: NetworkManagerMetrics = field(default_factory=NetworkManagerMetrics)
    _planner: Planner = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[WriteKey, dict[str, Any] | None] = field(default_factory=dict)
    _pending_ready: threading.Condition = field(default_factory=threading.Condition)
    _inputs: dict[WriteKey, str] = field(default_factory=dict)
    _parse_errors: dict[WriteKey, tuple[Problem, ...]] = field(default_factory=dict)
    _queue: WorkQueue[WriteKey] = field(default_factory=WorkQueue)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _informers: dict[str, Informer] = field(default_factory=dict)
    _ready: threading.Event = field(default_factory=threading.Event)
    writes: int = 0

    def __post_init__(self) -> None:
        self._planner = Planner(self.mac_source)
        self.metrics.queue_depth.set_function(lambda: len(self._queue))

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Caches synced and the full computation done."""
        return self._ready.is_set()

    @property
    def queued_writes(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        for kind in ("Cluster", "ClusterNode", "NodeConfig"):
            self._informers[kind] = Informer(self.store, kind, self._on_event)
            self._informers[kind].start()
        self._spawn(self._plan_loop, "network-manager-planner")
        for index in range(self.workers):
            self._spawn(self._write_loop, f"network-manager-writer-{index}")

    def stop(self) -> None:
        self._stopping.set()
        self._queue.shutdown()
        with self._pending_ready:
            self._pending_ready.notify_all()
        for informer in self._informers.values():
            informer.stop()
        for thread in self._threads:
            thread.join(timeout=10)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # --- planning ----------------------------------------------------------------------

    def _on_event(self, event_type: EventType, obj: dict[str, Any]) -> None:
        kind = obj.get("kind", "")
        name = obj.get("metadata", {}).get("name", "")
        if kind == "NodeConfig":
            if self._ready.is_set():
                self._queue.add(("NodeConfig", name))  # repair changes made by others
            return
        with self._pending_ready:
            self._pending[(kind, name)] = None if event_type == "DELETED" else obj
            self._pending_ready.notify()

    def _take_pending(self) -> dict[WriteKey, dict[str, Any] | None]:
        with self._pending_ready:
            while not self._pending and not self._stopping.is_set():
                self._pending_ready.wait(0.5)
            batch, self._pending = self._pending, {}
            return batch

    def _plan_loop(self) -> None:
        for informer in self._informers.values():
            while not informer.wait_for_sync(0.5):
                if self._stopping.is_set():
                    return
        self._load()
        while not self._stopping.is_set():
            batch = self._take_pending()
            if batch:
                self._apply(batch)

    def _load(self) -> None:
        """Full computation from the caches; previous NodeConfigs keep MACs and addresses."""
        with self._pending_ready:
            self._pending.clear()  # everything pending is in the caches already
        clusters = [c for c in map(self._accept, self._informers["Cluster"].items()) if c]
        nodes = [n for n in map(self._accept, self._informers["ClusterNode"].items()) if n]
        previous: dict[str, NodeConfigSpec] = {}
        for document in self._informers["NodeConfig"].items():
            try:
                previous[document["metadata"]["name"]] = NodeConfigSpec.model_validate(
                    document.get("spec") or {}
                )
            except ValueError:
                log.warning(
                    "NodeConfig %s has an unreadable spec; it will be rewritten",
                    document["metadata"]["name"],
                )
        started = time.perf_counter()
        with self._lock:
            plan = self._planner.load(
                [c for c in clusters if isinstance(c, Cluster)],
                [n for n in nodes if isinstance(n, ClusterNode)],
                previous,
            )
        log.info("planned %d NodeConfigs in %.3fs", len(plan.nodes), time.perf_counter() - started)
        names = set(plan.nodes) | {
            d["metadata"]["name"] for d in self._informers["NodeConfig"].items()
        }
        for name in names:
            self._queue.add(("NodeConfig", name))
        for ref in {*plan.problems, *self._status_refs()}:
            self._queue.add((ref.kind, ref.name))
        self._ready.set()

    def _status_refs(self) -> set[ObjectRef]:
        """Objects whose stored Valid condition may need writing (or clearing)."""
        refs = set()
        for kind in ("Cluster", "ClusterNode"):
            for document in self._informers[kind].items():
                refs.add(ObjectRef(kind, document["metadata"]["name"]))
        return refs

    def _count_problems(self) -> None:
        with self._lock:
            problems = self._planner.all_problems()
        for severity in ("error", "warning"):
            self.metrics.problems.labels(severity).set(
                sum(1 for p in problems if p.severity == severity)
            )

    def _accept(self, document: dict[str, Any]) -> Cluster | ClusterNode | None:
        """The object as the planner should see it, or None to keep the last valid one."""
        key = (document.get("kind", ""), document["metadata"]["name"])
        try:
            obj = parse_object(document)
        except InvalidObjectError as exc:
            self._parse_errors[key] = tuple(
                Problem(exc.ref, e.field, f"{e.message}; the last valid version stays in effect")
                for e in exc.errors
            )
            self._queue.add(key)
            return None
        if self._parse_errors.pop(key, None) is not None:
            self._queue.add(key)
        self._inputs[key] = _planning_input(document)
        return obj if isinstance(obj, Cluster | ClusterNode) else None

    def _apply(self, batch: dict[WriteKey, dict[str, Any] | None]) -> None:
        upsert_clusters: list[Cluster] = []
        upsert_nodes: list[ClusterNode] = []
        delete_clusters: list[str] = []
        delete_nodes: list[str] = []
        for (kind, name), document in batch.items():
            if document is None:
                self._inputs.pop((kind, name), None)
                self._parse_errors.pop((kind, name), None)
                (delete_clusters if kind == "Cluster" else delete_nodes).append(name)
                continue
            if self._inputs.get((kind, name)) == _planning_input(document):
                continue  # only bookkeeping or conditions changed (often our own write)
            obj = self._accept(document)
            if isinstance(obj, Cluster):
                upsert_clusters.append(obj)
            elif isinstance(obj, ClusterNode):
                upsert_nodes.append(obj)
        if not (upsert_clusters or upsert_nodes or delete_clusters or delete_nodes):
            return
        started = time.perf_counter()
        with self._lock:
            delta = self._planner.apply(
                upsert_clusters=upsert_clusters,
                delete_clusters=delete_clusters,
                upsert_nodes=upsert_nodes,
                delete_nodes=delete_nodes,
            )
        log.info(
            "change of %d object(s): %d NodeConfig(s) changed, %d removed, in %.1f ms",
            len(batch),
            len(delta.changed),
            len(delta.removed),
            (time.perf_counter() - started) * 1000,
        )
        for name in (*delta.changed, *delta.removed):
            self._queue.add(("NodeConfig", name))
        for ref in delta.problems:
            self._queue.add((ref.kind, ref.name))
        upserted: list[Cluster | ClusterNode] = [*upsert_clusters, *upsert_nodes]
        for obj in upserted:  # a new object needs its first condition
            self._queue.add((obj.kind, obj.name))

    # --- writing -----------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not self._stopping.is_set():
            key = self._queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                if key[0] == "NodeConfig":
                    self._sync_node_config(key[1])
                else:
                    self._sync_condition(key[0], key[1])
                self._queue.forget(key)
            except StoreError as exc:
                self.metrics.write_errors.inc()
                delay = self._queue.retry(key)
                log.warning("writing %s/%s failed (%s); retrying in %.2fs", *key, exc, delay)
            finally:
                self._queue.done(key)

    def _wrote(self, kind: str, operation: str) -> None:
        self.writes += 1
        self.metrics.writes.labels(kind, operation).inc()

    def _desired(self, name: str) -> tuple[NodePlan | None, bool]:
        with self._lock:
            return self._planner.node_plan(name), self._planner.is_held(name)

    def _sync_node_config(self, name: str) -> None:
        plan, held = self._desired(name)
        stored = self._informers["NodeConfig"].get(name)
        if plan is None:
            if stored is not None and not held:
                try:
                    self.store.delete("NodeConfig", name)
                    self._wrote("NodeConfig", "delete")
                except NotFoundError:
                    pass
            return
        if held:
            return  # keep what is there: its input is broken
        with self._lock:
            document = node_config_document(plan)
        if stored is None:
            try:
                self.store.create(document)
                self._wrote("NodeConfig", "create")
                return
            except AlreadyExistsError:
                stored = self.store.get("NodeConfig", name)
        if _comparable_spec(stored.get("spec") or {}) == _comparable_spec(document["spec"]):
            return
        metadata = dict(stored["metadata"])
        metadata["labels"] = {**metadata.get("labels", {}), **document["metadata"]["labels"]}
        self.store.update({**stored, "metadata": metadata, "spec": document["spec"]})
        self._wrote("NodeConfig", "update")

    def _sync_condition(self, kind: str, name: str) -> None:
        stored = self._informers[kind].get(name)
        if stored is None:
            return
        with self._lock:
            problems = self._planner.problems_of(ObjectRef(kind, name))
        problems = self._parse_errors.get((kind, name), ()) + problems
        conditions = list((stored.get("status") or {}).get("conditions") or [])
        current = next((c for c in conditions if c.get("type") == CONDITION_VALID), None)
        wanted = valid_condition(problems, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if current is not None and all(
            current.get(k) == wanted[k] for k in ("status", "reason", "message")
        ):
            return
        if current is not None and current.get("status") == wanted["status"]:
            wanted["lastTransitionTime"] = current.get(
                "lastTransitionTime", wanted["lastTransitionTime"]
            )
        others = [c for c in conditions if c.get("type") != CONDITION_VALID]
        try:
            self.store.patch_status(kind, name, {"status": {"conditions": [*others, wanted]}})
            self._wrote(kind, "status")
        except NotFoundError:
            pass
