"""The database layout of the sqlite backend and how a connection to it is opened.

One file per cluster holds the current objects, an append-only event log keyed by a single
global revision (the ``resourceVersion`` of everything), and that revision with the
compaction floor in a one-row ``meta`` table. WAL mode lets any number of processes read
while one writes; writers serialize on ``BEGIN IMMEDIATE`` with a busy timeout.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from clusterlink.store.errors import UnavailableError
from clusterlink.store.sqlite.options import SqliteOptions

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL,
        compacted INTEGER NOT NULL,
        schema_version INTEGER NOT NULL
    )""",
    # Revisions start at 1: a resourceVersion of "0" means "any" in Kubernetes.
    f"INSERT OR IGNORE INTO meta VALUES (1, 1, 1, {SCHEMA_VERSION})",
    """CREATE TABLE IF NOT EXISTS objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS events (
        revision INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        previous_labels TEXT,
        created REAL NOT NULL,
        labels TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, revision)",
)
# The labels of the written object, so that a label-selected watch decodes only the bodies
# of events it may report: the floaters of a store each watch their own plans among many.
_ADDED_EVENT_COLUMNS = (("labels", "TEXT"),)


def connect(path: Path, options: SqliteOptions) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread."""
    try:
        connection = sqlite3.connect(
            path, timeout=options.busy_timeout, isolation_level=None, check_same_thread=False
        )
        # NORMAL is durable across process crashes in WAL mode; only power loss may drop
        # the last commits, which the controllers re-derive anyway.
        connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise UnavailableError(f"cannot open sqlite store {str(path)!r}: {exc}") from None
    return connection


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Columns added after version 1 without changing its meaning: rows written before
    (or by an older program) leave them NULL and readers fall back to the body."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(events)")}
    for column, declaration in _ADDED_EVENT_COLUMNS:
        if column not in present:
            connection.execute(f"ALTER TABLE events ADD COLUMN {column} {declaration}")


def _create_schema(connection: sqlite3.Connection) -> int:
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            connection.execute(statement)
        _add_missing_columns(connection)
        (version,) = connection.execute("SELECT schema_version FROM meta").fetchone()
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return int(version)


def initialize(connection: sqlite3.Connection, path: Path, options: SqliteOptions) -> None:
    """Switch the file to WAL and create the tables; safe when many processes race to it."""
    deadline = time.monotonic() + options.busy_timeout
    while True:
        try:
            version = _create_schema(connection)
            break
        except sqlite3.OperationalError as exc:
            # Switching a new file to WAL does not wait on the busy handler: processes that
            # start together see "database is locked" until the first one has finished.
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise UnavailableError(
                    f"cannot initialize sqlite store {str(path)!r}: {exc}"
                ) from None
            time.sleep(random.uniform(0.005, 0.05))
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot initialize sqlite store {str(path)!r}: {exc}") from None
    if version != SCHEMA_VERSION:
        raise UnavailableError(
            f"sqlite store {str(path)!r} has schema version {version}; "
            f"this program reads version {SCHEMA_VERSION}"
        )
