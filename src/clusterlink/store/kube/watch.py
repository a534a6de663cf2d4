"""Watching a kind on an API server: one stream, resumed across reconnects, stoppable.

A reader thread follows the HTTP stream and queues its events; the iterating thread takes
them with a deadline, so ``timeout_seconds`` and :meth:`KubeWatch.stop` end the iteration on
time whatever the socket does. When the server ends a stream (its ``timeoutSeconds``) or the
connection drops, the reader reconnects from the last event it read, so no event is lost or
repeated; only ``410 Gone`` (history compacted) or a server that stays unreachable ends the
watch with an error. ``BOOKMARK`` events move the watch's position without an event.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import httpx2

from clusterlink.store.errors import GoneError, StoreError, UnavailableError
from clusterlink.store.kube.errors import error_from_status
from clusterlink.store.objects import ObjectKey
from clusterlink.store.protocol import EventType, ObjectList, WatchEvent

_EVENT_TYPES: Final[frozenset[str]] = frozenset({"ADDED", "MODIFIED", "DELETED"})
# Errors the protocol reports while iterating, not when the watch is opened.
_ITERATION_ERRORS: Final = (GoneError, UnavailableError)

OpenStream = Callable[[str, int], httpx2.Response]


@dataclass(frozen=True, slots=True)
class _Delivery:
    """An event, or a bare new position (``event`` None), and the revision it brings."""

    event: WatchEvent | None
    resource_version: str


class _End:
    """Queued when the stream ends for good."""


_Item = _Delivery | StoreError | _End


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """``server_seconds``: the longest one request lasts; ``retries``/``backoff``: for drops."""

    server_seconds: int
    retries: int
    backoff: float


class KubeWatch:
    """A :class:`~clusterlink.store.protocol.Watch` over one API server watch stream."""

    def __init__(
        self,
        key: ObjectKey,
        *,
        open_stream: OpenStream,
        snapshot: Callable[[], ObjectList],
        complete: Callable[[dict[str, Any]], dict[str, Any]],
        resource_version: str,
        timeout_seconds: float | None,
        settings: WatchSettings,
    ) -> None:
        self._key = key
        self._open_stream = open_stream
        self._complete = complete
        self._settings = settings
        self._deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx2.Response | None = None
        self._position = resource_version
        start = resource_version
        if resource_version in ("", "0"):
            start = self._queue_snapshot(snapshot())
        first: httpx2.Response | None = None
        try:
            first = self._open(start)
        except _ITERATION_ERRORS as exc:
            self._queue.put(exc)
        self._reader = threading.Thread(
            target=self._read, args=(start, first), name=f"kube-watch-{key.kind}", daemon=True
        )
        if first is not None:
            self._reader.start()

    @property
    def resource_version(self) -> str:
        return self._position

    @property
    def finished(self) -> bool:
        return self._stopped.is_set()

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        while not self._stopped.is_set():
            try:
                item = self._queue.get(timeout=self._remaining())
            except queue.Empty:
                break
            if isinstance(item, _End):
                break
            if isinstance(item, StoreError):
                self.stop()
                raise item
            if item.resource_version:
                self._position = item.resource_version
            if item.event is not None:
                return item.event
        self.stop()
        raise StopIteration

    def stop(self) -> None:
        self._stopped.set()
        self._queue.put(_End())
        with self._lock:
            response = self._response
        if response is not None:
            _interrupt(response)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def _queue_snapshot(self, listed: ObjectList) -> str:
        for item in listed.items:
            self._queue.put(_Delivery(WatchEvent("ADDED", item), ""))
        self._queue.put(_Delivery(None, listed.resource_version))
        return listed.resource_version

    def _open(self, resource_version: str) -> httpx2.Response:
        remaining = self._remaining()
        seconds = self._settings.server_seconds
        if remaining is not None:
            seconds = max(1, min(seconds, math.ceil(remaining)))
        response = self._open_stream(resource_version, seconds)
        with self._lock:
            self._response = response
        if self._stopped.is_set():
            _interrupt(response)
        return response

    def _read(self, resource_version: str, response: httpx2.Response | None) -> None:
        position = resource_version
        drops = 0
        while not self._stopped.is_set():
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                self._queue.put(_End())
                return
            try:
                if response is None:
                    response = self._open(position)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    position = self._deliver(json.loads(line), position)
                    drops = 0
            except StoreError as exc:
                self._queue.put(exc)
                return
            except ValueError as exc:
                self._queue.put(
                    UnavailableError(f"the watch of {self._key.kind} read a bad event: {exc}")
                )
                return
            except (httpx2.TransportError, httpx2.StreamError) as exc:
                if self._stopped.is_set():
                    return
                drops += 1
                if drops > self._settings.retries:
                    self._queue.put(self._lost(exc))
                    return
                self._stopped.wait(self._settings.backoff * 2 ** (drops - 1))
            finally:
                if response is not None:
                    response.close()
                response = None

    def _deliver(self, event: dict[str, Any], position: str) -> str:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code") or 500)
            raise error_from_status(code, obj, self._key, reading=True)
        revision = str((obj.get("metadata") or {}).get("resourceVersion") or position)
        if kind == "BOOKMARK":
            self._queue.put(_Delivery(None, revision))
        elif kind in _EVENT_TYPES:
            event_type: EventType = kind
            self._queue.put(_Delivery(WatchEvent(event_type, self._complete(obj)), revision))
        return revision

    def _lost(self, exc: Exception) -> UnavailableError:
        return UnavailableError(
            f"the watch of {self._key.kind} lost its connection "
            f"{self._settings.retries + 1} times: {exc or type(exc).__name__}",
            kind=self._key.kind,
        )


def _interrupt(response: httpx2.Response) -> None:
    """Wake a thread blocked reading ``response`` by shutting its socket down."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
