"""The long-running agent: keeps its node equal to its NodeConfig, and says so.

It converges with exactly the data plane's ``converge`` (the same as
``clusterlink agent apply``): at once when its NodeConfig changes (reusing what the
previous pass left, so a one-route change costs milliseconds), and every
``resync_period`` with a full read of the host, which repairs drift.

Unlike upstream it never tears down because it knows too little: at start, or while the
store is unreachable, or when its NodeConfig cannot be found, the node keeps what it has.
Only a watched *deletion* of its NodeConfig removes the node's state. It writes
``NodeConfig.status`` (upstream never does): ``observedGeneration``, ``lastSyncTime``,
``lastChangeTime`` and an ``Applied`` condition listing every failed entry, rewritten when
something changes and otherwise at most every ``heartbeat`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from clusterlink.api.errors import ObjectRef
from clusterlink.api.models import Cluster, NodeConfigSpec
from clusterlink.controllers.informer import Informer
from clusterlink.dataplane import Baseline, ConvergeResult, InvalidSpecError, converge
from clusterlink.dataplane.detection import DetectionError, detect
from clusterlink.store.errors import NotFoundError, StoreError
from clusterlink.store.protocol import EventType, ObjectStore

log = logging.getLogger(__name__)

_MAX_MESSAGE = 4096


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class AgentMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = "clusterlink_agent"
        self.converge_seconds = Histogram(
            f"{prefix}_converge_seconds",
            "Duration of one converge pass",
            ["trigger"],
            registry=self.registry,
            buckets=(0.005, 0.02, 0.05, 0.2, 1, 5, 30),
        )
        self.changes = Counter(
            f"{prefix}_changes_total", "Entries changed on the host", registry=self.registry
        )
        self.failures = Counter(
            f"{prefix}_apply_errors_total", "Entries that failed to apply", registry=self.registry
        )
        self.last_sync = Gauge(
            f"{prefix}_last_sync_timestamp_seconds",
            "When the node last matched its NodeConfig",
            registry=self.registry,
        )


@dataclass
class Agent:
    store: ObjectStore
    cluster: str
    node: str
    netns: str | None = None
    resync_period: float = 30.0
    heartbeat: float = 300.0
    detect_interface: bool = True
    metrics: AgentMetrics = field(default_factory=AgentMetrics)
    _desired: dict[str, Any] | None = None
    _delete_requested: bool = False
    _changed: threading.Event = field(default_factory=threading.Event)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _baseline: Baseline | None = None
    _informers: list[Informer] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _last_status: tuple[Any, ...] = ()
    _last_status_at: float = 0.0
    _last_change_time: str | None = None
    _synced_once: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        return f"{self.cluster}-{self.node}"

    @property
    def caches_synced(self) -> bool:
        return bool(self._informers) and all(i.has_synced for i in self._informers)

    @property
    def ready(self) -> bool:
        """The NodeConfig cache is synced and the node matched it at least once."""
        return self._synced_once.is_set()

    def start(self) -> None:
        by_name = f"metadata.name={self.name}"
        self._informers = [
            Informer(self.store, "NodeConfig", self._on_node_config, field_selector=by_name)
        ]
        if self.detect_interface:
            self._informers += [
                Informer(
                    self.store,
                    "Cluster",
                    self._on_detection_input,
                    field_selector=f"metadata.name={self.cluster}",
                ),
                Informer(
                    self.store, "ClusterNode", self._on_detection_input, field_selector=by_name
                ),
            ]
        for informer in self._informers:
            informer.start()
        thread = threading.Thread(target=self._converge_loop, name="agent-converge", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._changed.set()
        for informer in self._informers:
            informer.stop()
        for thread in self._threads:
            thread.join(timeout=30)

    # --- NodeConfig -> host ------------------------------------------------------------

    def _on_node_config(self, event_type: EventType, obj: dict[str, Any]) -> None:
        with self._lock:
            if event_type == "DELETED":
                self._desired = None
                self._delete_requested = True
            else:
                self._desired = obj
        self._changed.set()

    def _converge_loop(self) -> None:
        while not self._stopping.is_set():
            changed = self._changed.wait(self.resync_period)
            self._changed.clear()
            if self._stopping.is_set():
                return
            with self._lock:
                document, delete = self._desired, self._delete_requested
                self._delete_requested = False
            if document is not None:
                self._sync(document, trigger="change" if changed else "resync")
            elif delete:
                self._tear_down()

    def _sync(self, document: dict[str, Any], trigger: str) -> None:
        generation = document["metadata"].get("generation")
        try:
            spec = NodeConfigSpec.model_validate(document.get("spec") or {})
        except ValueError as exc:
            self._report(generation, False, "InvalidSpec", f"spec cannot be read: {exc}")
            return
        baseline = self._baseline
        if baseline is not None and trigger == "resync":
            baseline = baseline.for_resync()
        started = time.perf_counter()
        try:
            result = converge(
                spec, self.netns, baseline=baseline, ref=ObjectRef("NodeConfig", self.name)
            )
        except InvalidSpecError as exc:
            self._report(generation, False, "InvalidSpec", f"{exc}; nothing was changed")
            return
        except Exception as exc:  # the host itself failed us: report, retry next pass
            log.exception("converge failed")
            self._baseline = None
            self._report(generation, False, "ConvergeError", str(exc))
            return
        self.metrics.converge_seconds.labels(trigger).observe(time.perf_counter() - started)
        self._baseline = result.baseline
        self._record(result)
        self._report(generation, result.converged, *self._describe(result))

    def _record(self, result: ConvergeResult) -> None:
        self.metrics.changes.inc(len(result.applied))
        self.metrics.failures.inc(len(result.failed))
        if result.applied:
            self._last_change_time = _now()
            log.info("applied %d change(s) to %s", len(result.applied), self.netns or "the host")
        for failure in result.failed:
            log.warning("failed: %s", failure)
        if result.converged:
            self.metrics.last_sync.set_to_current_time()
            self._synced_once.set()

    @staticmethod
    def _describe(result: ConvergeResult) -> tuple[str, str]:
        if result.converged:
            return "Converged", f"{len(result.applied)} change(s) applied in the last pass"
        failures = "; ".join(str(f) for f in result.failed)
        return "EntriesFailed", f"{len(result.failed)} entr(ies) failed: {failures}"

    def _tear_down(self) -> None:
        log.info("NodeConfig %s was deleted: removing this node's ClusterLink state", self.name)
        result = converge(NodeConfigSpec(), self.netns, ref=ObjectRef("NodeConfig", self.name))
        self._baseline = None
        self._record(result)

    def _report(self, generation: int | None, ok: bool, reason: str, message: str) -> None:
        """Write NodeConfig.status when something changed, or as a heartbeat."""
        key = (generation, ok, reason, message, self._last_change_time)
        if key == self._last_status and time.monotonic() - self._last_status_at < self.heartbeat:
            return
        condition = {
            "type": "Applied",
            "status": "True" if ok else "False",
            "reason": reason,
            "message": message[:_MAX_MESSAGE],
            "lastTransitionTime": _now(),
        }
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "lastSyncTime": _now(),
            "conditions": [condition],
        }
        if self._last_change_time:
            status["lastChangeTime"] = self._last_change_time
        try:
            self.store.patch_status("NodeConfig", self.name, {"status": status})
        except (NotFoundError, StoreError) as exc:
            log.info("cannot write NodeConfig %s status yet: %s", self.name, exc)
            return
        self._last_status, self._last_status_at = key, time.monotonic()

    # --- detection: host -> ClusterNode ------------------------------------------------

    def _on_detection_input(self, event_type: EventType, obj: dict[str, Any]) -> None:
        if event_type == "DELETED":
            return
        try:
            self._detect_and_report()
        except StoreError as exc:
            log.info("detection: store unavailable: %s", exc)

    def _detect_and_report(self) -> None:
        cluster_informer, node_informer = self._informers[1], self._informers[2]
        cluster_doc = cluster_informer.get(self.cluster)
        node_doc = node_informer.get(self.name)
        if cluster_doc is None or node_doc is None:
            return
        options = Cluster.model_validate(cluster_doc).spec.cluster_link_options
        if options is None:
            return
        try:
            found = detect(options, self.node, self.netns)
        except (DetectionError, OSError) as exc:
            log.warning("cannot detect the tunnel interface: %s", exc)
            return
        spec = node_doc.get("spec") or {}
        patch = {"interfaceName": found.interface}
        if found.ip:
            patch["ip"] = found.ip
        if found.ip6:
            patch["ip6"] = found.ip6
        if all(spec.get(key) == value for key, value in patch.items()):
            return
        log.info("detected %s: ip %s ip6 %s", found.interface, found.ip or "-", found.ip6 or "-")
        self.store.patch("ClusterNode", self.name, {"spec": patch})
