"""The ``sqlite`` backend: the embedded default store, one database file per cluster."""

from clusterlink.store.sqlite.backend import SqliteStore
from clusterlink.store.sqlite.options import SqliteLocation, SqliteOptions, parse_sqlite_url
from clusterlink.store.sqlite.watch import SqliteWatch

__all__ = ["SqliteLocation", "SqliteOptions", "SqliteStore", "SqliteWatch", "parse_sqlite_url"]
