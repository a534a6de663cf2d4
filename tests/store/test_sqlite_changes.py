"""Idle sqlite watches sleep until the database is written, instead of polling it.

The options below make an idle watch's safety-net poll hopelessly slow
(``idle_poll_interval=30``), so a watch that sees a write within seconds can only have been
woken by the file change.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from clusterlink.store.sqlite import SqliteOptions, SqliteStore, changes
from clusterlink.store.sqlite.watch import SqliteWatch

from . import workers
from .builders import config_map, summary, take

SLOW_POLLING = SqliteOptions(poll_interval=0.2, idle_poll_interval=30.0)
spawn = multiprocessing.get_context("spawn")


def test_a_write_from_another_process_wakes_an_idle_watch_at_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", SLOW_POLLING)
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=20) as watch:
            writer = spawn.Process(
                target=workers.create_after, args=(f"sqlite:///{tmp_path}/a.db", "late", 1.0)
            )
            writer.start()
            events = take(watch, 1)
            received = time.time()
            writer.join(10)

        assert summary(events) == [("ADDED", "late")]
        assert received - float(events[0].object["data"]["sent"]) < 5.0
    finally:
        store.close()


def test_an_idle_watch_does_not_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    polls: list[int] = []
    original = SqliteWatch._poll

    def counted(self: SqliteWatch, connection: object, after: int) -> None:
        polls.append(after)
        original(self, connection, after)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteWatch, "_poll", counted)
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=1.0) as watch:
            assert list(watch) == []

        assert len(polls) <= 3  # a polling watch would have made about a hundred
    finally:
        store.close()


def test_writes_to_another_store_in_the_same_directory_do_not_wake_a_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls: list[int] = []
    original = SqliteWatch._poll

    def counted(self: SqliteWatch, connection: object, after: int) -> None:
        polls.append(after)
        original(self, connection, after)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteWatch, "_poll", counted)
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    neighbour = SqliteStore(tmp_path / "b.db")
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=1.0) as watch:
            for index in range(20):
                neighbour.create(config_map(f"noise{index}", {}))
            assert list(watch) == []

        assert len(polls) <= 3
    finally:
        neighbour.close()
        store.close()


def test_stopping_a_sleeping_watch_ends_it_at_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", SLOW_POLLING)
    try:
        watch = store.watch("ConfigMap", resource_version=store.list("ConfigMap").resource_version)
        ended = threading.Event()
        reader = threading.Thread(target=lambda: (list(watch), ended.set()), daemon=True)
        reader.start()
        time.sleep(0.3)

        watch.stop()

        assert ended.wait(2.0)
    finally:
        store.close()


def test_without_inotify_watches_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(changes, "INotify", unavailable)
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.05, idle_poll_interval=30))
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=10) as watch:
            threading.Timer(0.5, lambda: store.create(config_map("late", {}))).start()
            began = time.monotonic()
            events = take(watch, 1)

        assert summary(events) == [("ADDED", "late")]
        assert time.monotonic() - began < 5.0
    finally:
        store.close()
