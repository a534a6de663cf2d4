"""Settings of the sqlite backend and how they are read from a store URL.

``sqlite:///var/lib/kosmos/cluster-a.db?poll_interval=0.02&history_seconds=600``: the URL is
the one thing every component, the lab and ``kosmosctl --store`` pass around, so tuning
belongs in it rather than in per-component flags.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from clusterlink.store.errors import InvalidError


@dataclass(frozen=True, slots=True)
class SqliteOptions:
    """How one process uses a sqlite store.

    ``poll_interval``: seconds between a watch's polls right after a write, or always where
    the files cannot be watched; ``idle_poll_interval``: seconds between the polls of a watch
    waiting for writes (a safety net). ``busy_timeout``: seconds
    a write waits for another process's write before :class:`~..errors.UnavailableError`.
    Watch history keeps every event that is among the last ``history_events`` *or* younger
    than ``history_seconds``; a watch resuming from before that gets :class:`~..errors.GoneError`.
    ``watch_batch``: most events a watch reads per query.
    """

    poll_interval: float = 0.05
    idle_poll_interval: float = 1.0
    busy_timeout: float = 10.0
    history_events: int = 10_000
    history_seconds: float = 300.0
    watch_batch: int = 500


@dataclass(frozen=True, slots=True)
class SqliteLocation:
    """A parsed ``sqlite://`` URL."""

    path: Path
    options: SqliteOptions


_INTEGER_FIELDS = {"history_events", "watch_batch"}


def _option(url: str, name: str, text: str) -> float | int:
    try:
        value: float | int = int(text) if name in _INTEGER_FIELDS else float(text)
    except ValueError:
        raise InvalidError(f"store URL {url!r}: {name}={text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (name == "watch_batch" and value < 1):
        raise InvalidError(f"store URL {url!r}: {name}={text!r} is out of range")
    return value


def parse_sqlite_url(url: str) -> SqliteLocation:
    """``sqlite:///abs/file.db`` (absolute) or ``sqlite://relative/file.db``, with options."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise InvalidError(f"store URL {url!r} is not a sqlite:// URL")
    path_text = parts.netloc + parts.path
    if not path_text or path_text == ":memory:":
        raise InvalidError(
            f"store URL {url!r} names no database file; use sqlite:///abs/path.db or "
            "sqlite://relative/path.db (in-memory databases cannot be shared by processes)"
        )
    known = {field.name for field in dataclasses.fields(SqliteOptions)}
    values: dict[str, float | int] = {}
    for name, text in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name not in known:
            raise InvalidError(
                f"store URL {url!r}: unknown option {name!r}; known options: "
                f"{', '.join(sorted(known))}"
            )
        values[name] = _option(url, name, text)
    return SqliteLocation(Path(path_text), SqliteOptions(**values))  # type: ignore[arg-type]
