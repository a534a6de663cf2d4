"""The floater component: registers itself, answers the plans addressed to it, serves peers.

It watches ConfigMaps labelled with its own name (``clusterlink.io/floater-plan-for``),
runs each new plan once, concurrently, and writes the answer as a result ConfigMap next to
it. A malformed plan is answered too, with the reason it was rejected, so the doctor never
waits for an answer that cannot come.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from clusterlink.controllers.informer import Informer
from clusterlink.floater.messages import (
    DEFAULT_NAMESPACE,
    PLAN_FOR_LABEL,
    RUN_LABEL,
    FloaterInfo,
    plan_from,
    registration_document,
    registration_name,
    result_document,
    result_name,
)
from clusterlink.floater.outcome import PlanOutcome, ProbeOutcome
from clusterlink.floater.plan import PlanError
from clusterlink.floater.runner import run_plan
from clusterlink.floater.server import FloaterServer
from clusterlink.store.errors import AlreadyExistsError, NotFoundError, StoreError
from clusterlink.store.protocol import EventType, ObjectStore

log = logging.getLogger(__name__)

PLAN_WORKERS = 2


@dataclass
class FloaterMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = "clusterlink_floater"
        self.plans = Counter(
            f"{prefix}_plans_total", "Plans answered", ["outcome"], registry=self.registry
        )
        self.probes = Counter(
            f"{prefix}_probes_total",
            "Probes run",
            ["protocol", "result"],
            registry=self.registry,
        )
        self.plan_seconds = Histogram(
            f"{prefix}_plan_seconds",
            "Time to run one plan",
            registry=self.registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 120),
        )

    def observe(self, outcome: ProbeOutcome) -> None:
        result = "success" if outcome.success else "failure"
        self.probes.labels(outcome.protocol, result).inc()


@dataclass
class Floater:
    store: ObjectStore
    info: FloaterInfo
    namespace: str = DEFAULT_NAMESPACE
    max_concurrency: int = 64
    metrics: FloaterMetrics = field(default_factory=FloaterMetrics)
    _server: FloaterServer | None = None
    _informer: Informer | None = None
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(PLAN_WORKERS, thread_name_prefix="plan")
    )
    _answered: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _registered: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return (
            self._registered.is_set() and self._informer is not None and self._informer.has_synced
        )

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else self.info.port

    def start(self) -> None:
        self._server = FloaterServer(self.metrics.registry, lambda: self.ready, self.info.port)
        self._server.start()
        self.info = dataclasses.replace(self.info, port=self._server.port)
        log.info("serving probes on port %d as %s", self.port, self.info.name)
        self._register()
        self._informer = Informer(
            self.store,
            "ConfigMap",
            self._on_plan,
            namespace=self.namespace,
            label_selector=f"{PLAN_FOR_LABEL}={self.info.name}",
        )
        self._informer.start()

    def stop(self) -> None:
        """Stop serving and deregister; a second call does nothing."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._informer is not None:
            self._informer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self.store.delete("ConfigMap", registration_name(self.info.name), self.namespace)
        except (NotFoundError, StoreError) as exc:
            log.info("registration not removed: %s", exc)
        if self._server is not None:
            self._server.stop()

    def _register(self) -> None:
        document = registration_document(self.info, self.namespace)
        try:
            self.store.create(document)
        except AlreadyExistsError:  # a previous run of this floater did not deregister
            self.store.update(document)
        self._registered.set()

    def _on_plan(self, event_type: EventType, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with self._lock:
            if event_type == "DELETED":
                self._answered.discard(name)
                return
            if name in self._answered:
                return
            self._answered.add(name)
        self._pool.submit(self._answer, obj)

    def _answer(self, document: dict[str, Any]) -> None:
        run = (document["metadata"].get("labels") or {}).get(RUN_LABEL, "unknown")
        if self._answered_before(run):
            return
        try:
            plan = plan_from(document)
            if plan.floater != self.info.name:
                raise PlanError(f"floater: plan is for {plan.floater}, not {self.info.name}")
        except PlanError as exc:
            log.warning("plan %s rejected: %s", document["metadata"]["name"], exc)
            self.metrics.plans.labels("rejected").inc()
            outcome = PlanOutcome(run, self.info.name, (), 0.0, error=f"plan rejected: {exc}")
        else:
            plan = dataclasses.replace(
                plan, concurrency=min(plan.concurrency, self.max_concurrency)
            )
            with self.metrics.plan_seconds.time():
                outcome = run_plan(plan, self.metrics.observe)
            self.metrics.plans.labels("answered").inc()
            log.info(
                "plan %s: %d probe(s) in %.2f s", plan.run, len(outcome.outcomes), outcome.seconds
            )
        try:
            self.store.create(result_document(outcome, self.namespace))
        except AlreadyExistsError:
            pass
        except StoreError as exc:
            log.error("cannot write the result of run %s: %s", run, exc)

    def _answered_before(self, run: str) -> bool:
        """After a restart, plans already answered are not run again."""
        try:
            self.store.get("ConfigMap", result_name(run, self.info.name), self.namespace)
        except NotFoundError:
            return False
        except StoreError:
            return False
        return True
