"""Explicit read and write transactions, with sqlite failures turned into store errors.

A read transaction is a consistent snapshot (WAL), so a list and its revision agree. A write
transaction starts with ``BEGIN IMMEDIATE``: it takes the file's write lock up front, waiting
up to the busy timeout, instead of failing halfway when it would upgrade a read lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from clusterlink.store.errors import UnavailableError


@contextmanager
def unavailable_on_failure(path: Path) -> Iterator[None]:
    """Re-raise sqlite errors (locked too long, I/O, corrupt file) as :class:`UnavailableError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise UnavailableError(f"sqlite store {str(path)!r} failed: {exc}") from None


@contextmanager
def _transaction(connection: sqlite3.Connection, path: Path, begin: str) -> Iterator[None]:
    with unavailable_on_failure(path):
        connection.execute(begin)
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def reading(connection: sqlite3.Connection, path: Path) -> AbstractContextManager[None]:
    """A snapshot of the whole database for the duration of the block."""
    return _transaction(connection, path, "BEGIN")


def writing(connection: sqlite3.Connection, path: Path) -> AbstractContextManager[None]:
    """Exclusive write access for the duration of the block; rolled back on any exception."""
    return _transaction(connection, path, "BEGIN IMMEDIATE")
