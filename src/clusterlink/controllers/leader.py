"""Leader election on a ``coordination.k8s.io/v1`` Lease.

The algorithm of client-go: a candidate takes the lease when its holder has not renewed it
for ``lease_duration``, judged on the candidate's *own* monotonic clock from the moment it
last saw the lease record change, so clocks of different nodes never need to agree. All
writes are optimistic (resourceVersion), so two candidates can never both win. A leader
that stops cleanly releases the lease, and the next candidate takes over at once.

Timings default to a fast failover (a crashed leader is replaced within about
``lease_duration + retry_period``); upstream uses 15 s leases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clusterlink.store.errors import ConflictError, NotFoundError, StoreError
from clusterlink.store.protocol import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseTiming:
    lease_duration: float = 2.0
    renew_deadline: float = 1.5
    retry_period: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "lease timing must satisfy 0 < retry_period < renew_deadline < lease_duration"
            )

    @property
    def renew_interval(self) -> float:
        """How often a leader writes its lease: a third of the renew deadline leaves room
        for failed writes (retried every ``retry_period``), and an idle federation's stores,
        and every watch on them, stay quiet in between."""
        return max(self.retry_period, self.renew_deadline / 3)


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElector:
    store: ObjectStore
    name: str
    namespace: str
    identity: str
    timing: LeaseTiming = field(default_factory=LeaseTiming)
    on_started_leading: Callable[[], None] = lambda: None
    on_stopped_leading: Callable[[], None] = lambda: None
    on_new_leader: Callable[[str], None] = lambda identity: None
    clock: Callable[[], float] = time.monotonic
    _observed: tuple[str, str] = ("", "")
    _observed_at: float = 0.0
    _leading: threading.Event = field(default_factory=threading.Event)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last_renewed: float = 0.0

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    @property
    def leader(self) -> str:
        """The identity of the holder as last observed ("" if none)."""
        return self._observed[0]

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"leader-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop campaigning. The work done while leading stops (``on_stopped_leading``)
        *before* the lease is released, so the next leader never overlaps with it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        was_leading = self._leading.is_set()
        self._set_leading(False)
        if release and was_leading:
            self._release()

    def run(self) -> None:
        while not self._stopping.is_set():
            if self._renewed_recently():
                self._stopping.wait(self.timing.retry_period)
                continue
            acquired = self.try_acquire_or_renew()
            now = self.clock()
            if acquired:
                self._last_renewed = now
                self._set_leading(True)
            elif self._leading.is_set() and now - self._last_renewed > self.timing.renew_deadline:
                log.warning(
                    "lease %s/%s: could not renew in time; stepping down", self.namespace, self.name
                )
                self._set_leading(False)
            self._stopping.wait(self.timing.retry_period)

    def _renewed_recently(self) -> bool:
        return (
            self._leading.is_set()
            and self.clock() - self._last_renewed < self.timing.renew_interval
        )

    def _set_leading(self, leading: bool) -> None:
        if leading and not self._leading.is_set():
            self._leading.set()
            log.info("lease %s/%s: %s is now the leader", self.namespace, self.name, self.identity)
            self.on_started_leading()
        elif not leading and self._leading.is_set():
            self._leading.clear()
            self.on_stopped_leading()

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec", {})
        record = (spec.get("holderIdentity") or "", spec.get("renewTime") or "")
        if record != self._observed:
            if record[0] != self._observed[0]:
                self.on_new_leader(record[0])
            self._observed = record
            self._observed_at = self.clock()

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the lease afterwards."""
        try:
            lease = self.store.get("Lease", self.name, self.namespace)
        except NotFoundError:
            return self._create()
        except StoreError as exc:
            log.debug("lease %s/%s: %s", self.namespace, self.name, exc)
            return False
        self._observe(lease)
        spec = dict(lease.get("spec", {}))
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
        expired = self.clock() - self._observed_at > duration
        if holder and holder != self.identity and not expired:
            return False
        now = _now_text()
        if holder != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(
            holderIdentity=self.identity,
            renewTime=now,
            leaseDurationSeconds=max(1, round(self.timing.lease_duration)),
        )
        try:
            updated = self.store.update({**lease, "spec": spec})
        except (ConflictError, StoreError) as exc:
            log.debug("lease %s/%s: %s", self.namespace, self.name, exc)
            return False
        self._observe(updated)
        return True

    def _create(self) -> bool:
        now = _now_text()
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.timing.lease_duration)),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        try:
            self._observe(self.store.create(lease))
        except StoreError as exc:
            log.debug("lease %s/%s: %s", self.namespace, self.name, exc)
            return False
        return True

    def _release(self) -> None:
        try:
            lease = self.store.get("Lease", self.name, self.namespace)
            spec = dict(lease.get("spec", {}))
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=_now_text())
            self.store.update({**lease, "spec": spec})
        except StoreError as exc:
            log.info("lease %s/%s: release failed: %s", self.namespace, self.name, exc)
