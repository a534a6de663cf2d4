"""The embedded store: one sqlite file per cluster, shared by every process of that cluster.

Each write is one ``BEGIN IMMEDIATE`` transaction that reads the object, applies the
Kubernetes write rules of :mod:`clusterlink.store.transitions`, stores the result, appends
the event under the next global revision and compacts history. A collection delete is one
such transaction for all its objects, each with its own event and revision. Processes never
coordinate otherwise, so any of them may be killed at any point without harming the others.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clusterlink.store.errors import (
    AlreadyExistsError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from clusterlink.store.kinds import DEFAULT_KINDS, KindInfo, KindRegistry
from clusterlink.store.objects import ObjectKey, address, checked_key, collection_address
from clusterlink.store.protocol import ObjectList
from clusterlink.store.selection import Selection, labels_of
from clusterlink.store.sqlite.changes import FileChanges, announce_writes
from clusterlink.store.sqlite.connections import ThreadConnections
from clusterlink.store.sqlite.history import LoggedEvent, append_event, compact_history
from clusterlink.store.sqlite.options import SqliteOptions
from clusterlink.store.sqlite.schema import connect, initialize
from clusterlink.store.sqlite.transactions import reading, unavailable_on_failure, writing
from clusterlink.store.sqlite.watch import SqliteWatch
from clusterlink.store.transitions import (
    Outcome,
    Stamp,
    Subresource,
    created,
    deleted,
    patched,
    updated,
)

Decision = Callable[[dict[str, Any] | None, Stamp], Outcome]


def _not_found(key: ObjectKey) -> NotFoundError:
    return NotFoundError(f"{key} not found", kind=key.kind, name=key.name, namespace=key.namespace)


def _encode(key: ObjectKey, obj: Mapping[str, Any]) -> str:
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise key.invalid("object", f"not representable as JSON: {exc}") from None


class _WriteBatch:
    """The writes of one transaction: each recorded change takes the next revision and
    appends its event, so every write, alone or in a collection, is logged the same way."""

    def __init__(self, connection: sqlite3.Connection, head: int, now: float) -> None:
        self.connection = connection
        self.head = head
        self.now = now
        self.kinds: set[str] = set()  # the kinds of the recorded changes

    def stamp(self) -> Stamp:
        """What the next recorded change will be stamped with."""
        return Stamp.at(self.head + 1, self.now)

    def current(self, key: ObjectKey) -> dict[str, Any] | None:
        row = self.connection.execute(
            "SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (key.kind, key.namespace, key.name),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def record(self, key: ObjectKey, current: dict[str, Any] | None, outcome: Outcome) -> None:
        """Store ``outcome`` (decided on ``current`` with :meth:`stamp`) and log its event;
        an outcome without an event changes nothing."""
        if outcome.event is None:
            return
        self.head += 1
        self.kinds.add(key.kind)
        body = _encode(key, outcome.object)
        _store_object(self.connection, key, body, removed=outcome.event == "DELETED")
        logged = LoggedEvent(
            self.head, key, outcome.event, body, current, self.now, labels_of(outcome.object)
        )
        append_event(self.connection, logged)


def _store_object(
    connection: sqlite3.Connection, key: ObjectKey, body: str, *, removed: bool
) -> None:
    if removed:
        connection.execute(
            "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (key.kind, key.namespace, key.name),
        )
    else:
        connection.execute(
            "INSERT OR REPLACE INTO objects (kind, namespace, name, body) VALUES (?, ?, ?, ?)",
            (key.kind, key.namespace, key.name, body),
        )


class SqliteStore:
    """An :class:`~clusterlink.store.protocol.ObjectStore` on one sqlite database file."""

    def __init__(
        self,
        path: Path,
        options: SqliteOptions | None = None,
        *,
        kinds: KindRegistry = DEFAULT_KINDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not path.parent.is_dir():
            raise UnavailableError(f"cannot open sqlite store {str(path)!r}: no such directory")
        self._path = path
        self._options = options or SqliteOptions()
        self._kinds = kinds
        self._clock = clock
        self._connections = ThreadConnections(path, self._options)
        self._watches: weakref.WeakSet[SqliteWatch] = weakref.WeakSet()
        self._changes = FileChanges(path)
        initialize(self._connections.current(), path, self._options)

    @property
    def path(self) -> Path:
        return self._path

    # --- reads -------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        _, key = address(self._kinds, kind, name, namespace)
        connection = self._connections.current()
        with unavailable_on_failure(self._path):
            row = connection.execute(
                "SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                (key.kind, key.namespace, key.name),
            ).fetchone()
        if row is None:
            raise _not_found(key)
        obj: dict[str, Any] = json.loads(row[0])
        return obj

    def list(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> ObjectList:
        self._kinds.info(kind)
        selection = Selection.parse(namespace, label_selector, field_selector)
        connection = self._connections.current()
        with reading(connection, self._path):
            (head,) = connection.execute("SELECT revision FROM meta").fetchone()
            rows = connection.execute(
                "SELECT body FROM objects WHERE kind = ? AND (? IS NULL OR namespace = ?)"
                " ORDER BY namespace, name",
                (kind, namespace, namespace),
            ).fetchall()
        decoded = (json.loads(body) for (body,) in rows)
        items = tuple(obj for obj in decoded if selection.matches(obj))
        return ObjectList(items, str(head))

    def watch(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        timeout_seconds: float | None = None,
    ) -> SqliteWatch:
        self._kinds.info(kind)
        selection = Selection.parse(namespace, label_selector, field_selector)
        watch = SqliteWatch(
            self._path,
            connect=lambda: connect(self._path, self._options),
            kind=kind,
            selection=selection,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
            options=self._options,
            changes=self._changes,
        )
        self._watches.add(watch)
        return watch

    # --- writes ------------------------------------------------------------------------

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self.create_many([obj])[0]

    def create_many(self, objs: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
        keys = [self._creation_key(obj) for obj in objs]
        if not keys:
            return ()
        stored = []
        with self._batch() as batch:
            for obj, (info, key) in zip(objs, keys, strict=True):
                if batch.current(key) is not None:
                    raise AlreadyExistsError(
                        f"{key} already exists",
                        kind=key.kind,
                        name=key.name,
                        namespace=key.namespace,
                    )
                outcome = Outcome(created(info, obj, batch.stamp(), str(uuid.uuid4())), "ADDED")
                batch.record(key, None, outcome)
                stored.append(outcome.object)
        return tuple(stored)

    def _creation_key(self, obj: Mapping[str, Any]) -> tuple[KindInfo, ObjectKey]:
        """The kind and key of an object to create; InvalidError for one that cannot be."""
        info, key = checked_key(self._kinds, obj)
        if obj["metadata"].get("resourceVersion"):
            raise key.invalid(
                "metadata.resourceVersion", "must not be set on objects to be created"
            )
        return info, key

    def update(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._update(obj, "")

    def update_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._update(obj, "status")

    def patch(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        return self._patch(kind, name, patch, namespace, "")

    def patch_status(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        return self._patch(kind, name, patch, namespace, "status")

    def delete(
        self, kind: str, name: str, namespace: str = "", *, resource_version: str = ""
    ) -> dict[str, Any] | None:
        _, key = address(self._kinds, kind, name, namespace)

        def decide(current: dict[str, Any] | None, stamp: Stamp) -> Outcome:
            if current is None:
                raise _not_found(key)
            return deleted(key, current, stamp, resource_version)

        result = self._write_outcome(key, decide)
        return None if result.event == "DELETED" else result.object

    def delete_collection(self, kind: str, namespace: str = "", *, label_selector: str = "") -> int:
        _, collection = collection_address(self._kinds, kind, namespace)
        selection = Selection.parse(namespace, label_selector, "")
        with self._batch() as batch:
            rows = batch.connection.execute(
                "SELECT body FROM objects WHERE kind = ? AND namespace = ? ORDER BY name",
                (collection.kind, collection.namespace),
            ).fetchall()
            decoded = (json.loads(body) for (body,) in rows)
            chosen = [obj for obj in decoded if selection.matches(obj)]
            for current in chosen:
                key = ObjectKey(kind, namespace, current["metadata"]["name"])
                batch.record(key, current, deleted(key, current, batch.stamp(), ""))
        return len(chosen)

    def compact(self) -> int:
        """Apply the history retention now; returns the compaction floor (a revision)."""
        connection = self._connections.current()
        with writing(connection, self._path):
            head, floor = connection.execute("SELECT revision, compacted FROM meta").fetchone()
            floor = compact_history(connection, head, floor, self._options, self._clock())
            connection.execute("UPDATE meta SET compacted = ?", (floor,))
        return int(floor)

    def close(self) -> None:
        for watch in list(self._watches):
            watch.stop()
        self._changes.close()
        self._connections.close()

    # --- internals -----------------------------------------------------------------------

    def _update(self, obj: Mapping[str, Any], subresource: Subresource) -> dict[str, Any]:
        info, key = checked_key(self._kinds, obj)
        self._require_subresource(info, key, subresource)

        def decide(current: dict[str, Any] | None, stamp: Stamp) -> Outcome:
            if current is None:
                raise _not_found(key)
            return updated(info, key, current, obj, stamp=stamp, subresource=subresource)

        return self._write(key, decide)

    def _patch(
        self,
        kind: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str,
        subresource: Subresource,
    ) -> dict[str, Any]:
        info, key = address(self._kinds, kind, name, namespace)
        self._require_subresource(info, key, subresource)
        if not isinstance(patch, Mapping):
            raise key.invalid("patch", "a merge patch must be a JSON object")

        def decide(current: dict[str, Any] | None, stamp: Stamp) -> Outcome:
            if current is None:
                raise _not_found(key)
            outcome = patched(info, key, current, patch, stamp=stamp, subresource=subresource)
            checked_key(self._kinds, outcome.object)
            return outcome

        return self._write(key, decide)

    @staticmethod
    def _require_subresource(info: KindInfo, key: ObjectKey, subresource: Subresource) -> None:
        if subresource == "status" and not info.status_subresource:
            raise InvalidError(
                f"{key.kind} has no status subresource; write its status with update",
                kind=key.kind,
                name=key.name,
                namespace=key.namespace,
            )

    def _write(self, key: ObjectKey, decide: Decision) -> dict[str, Any]:
        return self._write_outcome(key, decide).object

    def _write_outcome(self, key: ObjectKey, decide: Decision) -> Outcome:
        with self._batch() as batch:
            current = batch.current(key)
            outcome = decide(current, batch.stamp())
            batch.record(key, current, outcome)
        return outcome

    @contextmanager
    def _batch(self) -> Iterator[_WriteBatch]:
        """One write transaction; at its end, the head moves past what was recorded and
        history is compacted (once, however many objects were written). Once committed, the
        watches of the kinds written are woken (:mod:`.changes`)."""
        connection = self._connections.current()
        with writing(connection, self._path):
            head, floor = connection.execute("SELECT revision, compacted FROM meta").fetchone()
            batch = _WriteBatch(connection, head, self._clock())
            yield batch
            if batch.head != head:
                floor = compact_history(connection, batch.head, floor, self._options, batch.now)
                connection.execute(
                    "UPDATE meta SET revision = ?, compacted = ?", (batch.head, floor)
                )
        announce_writes(self._changes.directory, batch.kinds)
