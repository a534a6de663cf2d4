"""The event log: appending one event per write and compacting old history.

Watches read this log by revision, so it must be complete above the compaction floor
(``meta.compacted``): a watch that needs anything at or below the floor gets ``GoneError``.
Compaction runs inside writes, costs an index seek when there is nothing to drop, and keeps
every event that is among the newest ``history_events`` or younger than ``history_seconds``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clusterlink.store.objects import ObjectKey
from clusterlink.store.protocol import EventType
from clusterlink.store.sqlite.options import SqliteOptions


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One write, as appended to the log."""

    revision: int
    key: ObjectKey
    type: EventType
    body: str
    previous: Mapping[str, Any] | None
    created: float
    labels: Mapping[str, str]  # the written object's


def append_event(connection: sqlite3.Connection, event: LoggedEvent) -> None:
    """Record a write; ``previous`` labels let label-selected watches see objects leave, and
    the written object's ``labels`` let them skip the body of an event they cannot report."""
    previous_labels = (
        json.dumps((event.previous.get("metadata") or {}).get("labels") or {})
        if event.previous is not None
        else None
    )
    connection.execute(
        "INSERT INTO events"
        " (revision, kind, namespace, name, type, body, previous_labels, created, labels)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.revision,
            event.key.kind,
            event.key.namespace,
            event.key.name,
            event.type,
            event.body,
            previous_labels,
            event.created,
            json.dumps(event.labels),
        ),
    )


def compact_history(
    connection: sqlite3.Connection, head: int, floor: int, options: SqliteOptions, now: float
) -> int:
    """Drop events no watch may still ask for; returns the new compaction floor."""
    limit = head - options.history_events
    if limit <= floor:
        return floor
    young = connection.execute(
        "SELECT revision FROM events WHERE revision > ? AND revision <= ? AND created >= ?"
        " ORDER BY revision LIMIT 1",
        (floor, limit, now - options.history_seconds),
    ).fetchone()
    cutoff = young[0] - 1 if young else limit
    if cutoff <= floor:
        return floor
    connection.execute("DELETE FROM events WHERE revision <= ?", (cutoff,))
    return int(cutoff)
