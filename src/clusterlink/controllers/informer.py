"""An informer: a local cache of one kind kept current by list + watch.

Controllers read from the cache, never from the store, and are told of every change
through a callback (which should only enqueue a key). The informer survives the store
going away: it keeps its cache, retries with backoff, resumes the watch from the last
revision it saw, and relists when that revision has been compacted away (``Gone``),
announcing what vanished meanwhile as deletions.

An ``optional`` kind may not be served at all (Calico's IPPool on a flannel cluster): a
"not found" from the list then means an empty, synced cache, looked at again now and then,
instead of a failure that would keep the controller waiting for a sync forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusterlink.controllers.queue import Backoff
from clusterlink.store.errors import GoneError, NotFoundError, StoreError
from clusterlink.store.protocol import EventType, ObjectStore, Watch

log = logging.getLogger(__name__)

ObjectKey = tuple[str, str]  # (namespace, name)
EventHandler = Callable[[EventType, dict[str, Any]], None]


def key_of(obj: dict[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata", {})
    return (metadata.get("namespace", ""), metadata["name"])


@dataclass
class Informer:
    store: ObjectStore
    kind: str
    handler: EventHandler
    namespace: str | None = None
    label_selector: str = ""
    field_selector: str = ""
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.2, cap=10.0))
    watch_timeout: float = 60.0
    optional: bool = False
    absent_recheck: float = 60.0  # seconds between lists of an optional kind not served
    _cache: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _synced: threading.Event = field(default_factory=threading.Event)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watch: Watch | None = None
    _thread: threading.Thread | None = None
    _revision: str = ""

    # --- reading the cache -------------------------------------------------------------

    def get(self, name: str, namespace: str = "") -> dict[str, Any] | None:
        with self._lock:
            return self._cache.get((namespace, name))

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._cache.values())

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    # --- running -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"informer-{self.kind}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if not self._revision:
                    self._relist()
                self._follow()
                failures = 0
            except GoneError:
                log.info("%s watch history compacted; listing again", self.kind)
                self._revision = ""
            except NotFoundError as exc:
                if self.optional:
                    self._not_served(exc)
                else:
                    failures = self._retry_later(exc, failures)
            except StoreError as exc:
                failures = self._retry_later(exc, failures)

    def _retry_later(self, error: StoreError, failures: int) -> int:
        delay = self.backoff.delay(failures)
        log.warning("%s informer: %s; retrying in %.1fs", self.kind, error, delay)
        self._stopping.wait(delay)
        return failures + 1

    def _not_served(self, error: NotFoundError) -> None:
        if not self._synced.is_set():
            log.info("%s is not served here (%s); treated as none", self.kind, error)
        self._replace_cache({}, "")
        self._stopping.wait(self.absent_recheck)

    def _relist(self) -> None:
        listed = self.store.list(
            self.kind,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        self._replace_cache({key_of(obj): obj for obj in listed.items}, listed.resource_version)

    def _replace_cache(self, fresh: dict[ObjectKey, dict[str, Any]], revision: str) -> None:
        """Take ``fresh`` as the cache, announcing the differences, and count as synced."""
        with self._lock:
            vanished = [obj for key, obj in self._cache.items() if key not in fresh]
            changed = [
                ("ADDED" if key not in self._cache else "MODIFIED", obj)
                for key, obj in fresh.items()
                if self._cache.get(key, {}).get("metadata", {}).get("resourceVersion")
                != obj["metadata"].get("resourceVersion")
            ]
            self._cache = fresh
        self._revision = revision
        for obj in vanished:
            self._notify("DELETED", obj)
        for event_type, obj in changed:
            self._notify(event_type, obj)  # type: ignore[arg-type]
        self._synced.set()

    def _follow(self) -> None:
        self._watch = self.store.watch(
            self.kind,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=self._revision,
            timeout_seconds=self.watch_timeout,
        )
        if self._stopping.is_set():  # stop() ran before this watch existed
            self._watch.stop()
        try:
            for event in self._watch:
                key = key_of(event.object)
                with self._lock:
                    if event.type == "DELETED":
                        self._cache.pop(key, None)
                    else:
                        self._cache[key] = event.object
                self._notify(event.type, event.object)
                if self._stopping.is_set():
                    break
        finally:
            self._revision = self._watch.resource_version or self._revision
            self._watch.stop()

    def _notify(self, event_type: EventType, obj: dict[str, Any]) -> None:
        try:
            self.handler(event_type, obj)
        except Exception:  # a handler bug must not kill the informer
            log.exception("%s event handler failed", self.kind)
