"""Watching a sqlite store: polling the event log by revision from one process among many.

Each poll is one indexed query that also reads the head revision and the compaction floor
in the same snapshot, so a watch notices compaction it could not survive (``GoneError``) and,
when idle, moves its own position up to the head: an idle watch never falls behind the
floor because of other kinds' writes. Writers in other processes may crash at any time;
their uncommitted transactions are invisible here and the next poll simply continues.

An idle watch sleeps until its kind is written (:mod:`.changes`), then polls,
and polls once more ``poll_interval`` later: the write that woke it may belong to a commit
that becomes visible only an instant after it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from clusterlink.store.errors import BadRequestError, GoneError
from clusterlink.store.protocol import EventType, WatchEvent
from clusterlink.store.selection import Selection
from clusterlink.store.sqlite.changes import FileChanges
from clusterlink.store.sqlite.options import SqliteOptions
from clusterlink.store.sqlite.transactions import reading, unavailable_on_failure

# The inner query walks the (kind, revision) index in order and stops at the batch size;
# the join adds the head and the floor from the same snapshot, even when no event matches.
_POLL = (
    "SELECT m.revision, m.compacted, e.revision, e.type, e.body, e.previous_labels, e.labels"
    " FROM meta AS m LEFT JOIN ("
    "SELECT revision, type, body, previous_labels, labels FROM events"
    " WHERE kind = ? AND revision > ?"
    " AND (? IS NULL OR namespace = ?) AND (? IS NULL OR name = ?)"
    " ORDER BY revision LIMIT ?"
    ") AS e ORDER BY e.revision"
)


class SqliteWatch:
    """A :class:`~clusterlink.store.protocol.Watch` over one kind of a sqlite store.

    Polls happen inside ``__next__`` on the iterating thread, with the watch's own
    connection; an initial snapshot (empty ``resource_version``) is read at the first poll.
    """

    def __init__(
        self,
        path: Path,
        *,
        connect: Callable[[], sqlite3.Connection],
        kind: str,
        selection: Selection,
        resource_version: str,
        timeout_seconds: float | None,
        options: SqliteOptions,
        changes: FileChanges | None = None,
    ) -> None:
        self._path = path
        self._changes = changes
        self._recheck = False
        self._polled_at = 0.0
        self._connect = connect
        self._kind = kind
        self._selection = selection
        self._options = options
        self._deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        self._revision = _start_revision(kind, resource_version)
        # Each pending event with its revision; None for the events of the initial snapshot.
        self._pending: deque[tuple[int | None, WatchEvent]] = deque()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def resource_version(self) -> str:
        if not self._pending:
            return "" if self._revision is None else str(self._revision)
        first = self._pending[0][0]
        # Halfway through the snapshot, only a new snapshot can resume without losing objects.
        return "" if first is None else str(first - 1)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> WatchEvent:
        while not self._pending:
            remaining = self._remaining()
            if self._stopped.is_set() or remaining <= 0:
                self._close()
                raise StopIteration
            seen = self._changes.writes(self._kind) if self._changes is not None else 0
            try:
                self._fill()
            except BaseException:
                self._close()
                raise
            if not self._pending:
                self._sleep(seen, remaining)
        return self._pending.popleft()[1]

    def stop(self) -> None:
        self._stopped.set()
        if self._changes is not None:
            self._changes.wake()
        self._close()

    def _sleep(self, seen: int, remaining: float) -> None:
        """Until the next poll: a poll interval, or until a write when the files are watched
        (and one poll interval more after a write, for a commit still becoming visible)."""
        changes = self._changes
        if changes is None or not changes.available:
            self._stopped.wait(min(self._options.poll_interval, remaining))
            return
        interval = (
            self._options.poll_interval if self._recheck else self._options.idle_poll_interval
        )
        changes.wait_for_write(self._kind, seen, min(interval, remaining), self._stopped.is_set)
        self._recheck = changes.writes(self._kind) != seen
        if self._recheck:  # at most one poll per poll interval, however busy the store is
            pause = self._polled_at + self._options.poll_interval - time.monotonic()
            if pause > 0:
                self._stopped.wait(min(pause, remaining))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _remaining(self) -> float:
        return float("inf") if self._deadline is None else self._deadline - time.monotonic()

    def _close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _fill(self) -> None:
        self._polled_at = time.monotonic()
        with self._lock:
            if self._stopped.is_set():
                return
            if self._connection is None:
                self._connection = self._connect()
            if self._revision is None:
                self._snapshot(self._connection)
            else:
                self._poll(self._connection, self._revision)

    def _snapshot(self, connection: sqlite3.Connection) -> None:
        name = self._selection.name
        with reading(connection, self._path):
            (head,) = connection.execute("SELECT revision FROM meta").fetchone()
            rows = connection.execute(
                "SELECT body FROM objects WHERE kind = ? AND (? IS NULL OR name = ?)"
                " ORDER BY namespace, name",
                (self._kind, name, name),
            ).fetchall()
        for (body,) in rows:
            obj = json.loads(body)
            if self._selection.matches(obj):
                self._pending.append((None, WatchEvent("ADDED", obj)))
        self._revision = head

    def _poll(self, connection: sqlite3.Connection, after: int) -> None:
        namespace, name = self._selection.namespace, self._selection.name
        with unavailable_on_failure(self._path):
            rows = connection.execute(
                _POLL,
                (self._kind, after, namespace, namespace, name, name, self._options.watch_batch),
            ).fetchall()
        head, floor = rows[0][0], rows[0][1]
        if after < floor:
            raise GoneError(
                f"too old resource version: {after} ({floor}): the store {str(self._path)!r} "
                f"keeps history after revision {floor} only; list again and watch from the "
                "list's resourceVersion",
                kind=self._kind,
            )
        if after > head:
            raise GoneError(
                f"resource version {after} is newer than the revision {head} of the store "
                f"{str(self._path)!r} (was the database recreated?); list again",
                kind=self._kind,
            )
        events = [row for row in rows if row[2] is not None]
        for _, _, revision, type_, body, previous_labels, labels in events:
            event = self._event(type_, body, previous_labels, labels)
            if event is not None:
                self._pending.append((revision, event))
            self._revision = revision
        if len(events) < self._options.watch_batch:
            self._revision = head

    def _event(
        self, type_: EventType, body: str, previous_labels: str | None, labels: str | None
    ) -> WatchEvent | None:
        """What this watch reports for one logged write; the body is decoded only when the
        labels allow an event (rows from before the labels column have none): decoding
        every body was most of what the watches of a busy store cost."""
        previous = json.loads(previous_labels) if previous_labels is not None else None
        selection = self._selection
        if (
            labels is not None
            and selection.labels.requirements
            and not selection.may_report(json.loads(labels), previous)
        ):
            return None
        return selection.event(type_, json.loads(body), previous)


def _start_revision(kind: str, resource_version: str) -> int | None:
    """None: start with a snapshot of the current objects."""
    if resource_version in ("", "0"):
        return None
    if not resource_version.isdigit():
        raise BadRequestError(f"invalid resource version {resource_version!r} for a {kind} watch")
    return int(resource_version)
