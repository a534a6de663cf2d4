"""One sqlite connection per thread of a process, all closed together.

A sqlite connection must not run two statements at once; components call the store from
several threads, so each thread gets its own connection instead of queueing on a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from clusterlink.store.errors import UnavailableError
from clusterlink.store.sqlite.options import SqliteOptions
from clusterlink.store.sqlite.schema import connect


class ThreadConnections:
    """Hands each calling thread its own connection to one database file."""

    def __init__(self, path: Path, options: SqliteOptions) -> None:
        self._path = path
        self._options = options
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False

    def current(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        with self._lock:
            if self._closed:
                raise UnavailableError(f"sqlite store {str(self._path)!r} is closed")
            connection = connect(self._path, self._options)
            self._all.append(connection)
        self._local.connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for connection in self._all:
                connection.close()
            self._all.clear()
