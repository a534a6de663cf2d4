"""Behaviour specific to the sqlite backend: history retention, idle watches, lock timeouts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clusterlink.store import GoneError, UnavailableError
from clusterlink.store.sqlite import SqliteOptions, SqliteStore

from .builders import WAIT_SECONDS, cluster, config_map, summary, take


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_young_history_is_kept_beyond_the_event_count(tmp_path: Path) -> None:
    clock = Clock()
    options = SqliteOptions(history_events=1, history_seconds=60)
    store = SqliteStore(tmp_path / "a.db", options, clock=clock)
    try:
        first = store.create(cluster("a"))["metadata"]["resourceVersion"]
        for name in ("b", "c", "d"):
            store.create(cluster(name))

        with store.watch("Cluster", resource_version=first, timeout_seconds=WAIT_SECONDS) as w:
            assert summary(take(w, 3)) == [("ADDED", "b"), ("ADDED", "c"), ("ADDED", "d")]

        clock.now += 61
        store.create(cluster("e"))
        stale = store.watch("Cluster", resource_version=first, timeout_seconds=WAIT_SECONDS)
        with pytest.raises(GoneError):
            take(stale, 1)
    finally:
        store.close()


def test_compacting_on_demand_applies_the_retention(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(history_events=2), clock=clock)
    try:
        for name in ("a", "b", "c", "d"):
            store.create(cluster(name))
        head = int(store.list("Cluster").resource_version)
        assert store.compact() < head - 2

        clock.now += SqliteOptions().history_seconds + 1
        assert store.compact() == head - 2
    finally:
        store.close()


def test_an_idle_watch_moves_its_position_past_other_kinds_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    try:
        start = store.list("Lease").resource_version
        store.create(config_map("noise", {}))

        with store.watch("Lease", resource_version=start, timeout_seconds=0.1) as watch:
            assert list(watch) == []

        assert watch.resource_version == store.list("Lease").resource_version != start
    finally:
        store.close()


def test_a_write_blocked_by_another_writer_for_too_long_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(busy_timeout=0.1))
    blocker = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(UnavailableError, match="locked"):
            store.create(cluster("a"))
        assert store.list("Cluster").items == ()
    finally:
        blocker.close()
        store.close()


def _label_moves(store: SqliteStore) -> str:
    """Writes a Cluster moving into, within and out of ``mode=gateway``; returns the revision
    before them."""
    start: str = store.create(cluster("a"))["metadata"]["resourceVersion"]
    store.create(cluster("other", {"mode": "p2p"}))
    store.patch("Cluster", "a", {"metadata": {"labels": {"mode": "gateway"}}})
    store.patch("Cluster", "a", {"spec": {"kubeconfig": "x"}})
    store.patch("Cluster", "a", {"metadata": {"labels": {"mode": "p2p"}}})
    return start


# What a ``mode=gateway`` watch reports for :func:`_label_moves`.
GATEWAY_EVENTS = [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def _gateway_events(store: SqliteStore, start: str) -> list[tuple[str, str]]:
    with store.watch(
        "Cluster", label_selector="mode=gateway", resource_version=start, timeout_seconds=0.3
    ) as watch:
        return summary(list(watch))


def test_history_written_before_the_labels_column_is_still_selected_by_labels(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    try:
        start = _label_moves(store)
        raw = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
        raw.execute("UPDATE events SET labels = NULL")  # as an older program wrote them
        raw.close()

        assert _gateway_events(store, start) == GATEWAY_EVENTS
    finally:
        store.close()


def test_a_database_without_the_labels_column_gains_it_when_opened(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "a.db").close()
    raw = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    raw.execute("ALTER TABLE events DROP COLUMN labels")
    raw.close()

    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    try:
        start = _label_moves(store)
        assert _gateway_events(store, start) == GATEWAY_EVENTS
    finally:
        store.close()
