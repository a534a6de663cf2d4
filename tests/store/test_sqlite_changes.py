"""Idle sqlite watches sleep until their kind is written, instead of polling the database.

The options below make an idle watch's safety-net poll hopelessly slow
(``idle_poll_interval=30``), so a watch that sees a write within seconds can only have been
woken by the file change.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from clusterlink.store.sqlite import SqliteOptions, SqliteStore, backend, changes
from clusterlink.store.sqlite.watch import SqliteWatch

from . import workers
from .builders import config_map, lease, summary, take

SLOW_POLLING = SqliteOptions(poll_interval=0.2, idle_poll_interval=30.0)
spawn = multiprocessing.get_context("spawn")


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The revision after which each poll of any sqlite watch looked, as they happen."""
    seen: list[int] = []
    original = SqliteWatch._poll

    def counted(self: SqliteWatch, connection: object, after: int) -> None:
        seen.append(after)
        original(self, connection, after)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteWatch, "_poll", counted)
    return seen


def paced(times: int, write: Callable[[int], object]) -> None:
    """``times`` writes 50 ms apart: each one would wake a watch woken by any write."""
    for index in range(times):
        time.sleep(0.05)
        write(index)


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


def test_an_idle_watch_does_not_poll(tmp_path: Path, polls: list[int]) -> None:
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=1.0) as watch:
            assert list(watch) == []

        assert len(polls) <= 3  # a polling watch would have made about a hundred
    finally:
        store.close()


def test_writes_to_another_store_in_the_same_directory_do_not_wake_a_watch(
    tmp_path: Path, polls: list[int]
) -> None:
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    neighbour = SqliteStore(tmp_path / "b.db")
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=1.5) as watch:
            writer = threading.Thread(
                target=paced,
                args=(20, lambda index: neighbour.create(config_map(f"noise{index}", {}))),
            )
            writer.start()
            assert list(watch) == []
            writer.join()

        assert len(polls) <= 3
    finally:
        neighbour.close()
        store.close()


def test_writes_of_other_kinds_do_not_wake_a_watch(tmp_path: Path, polls: list[int]) -> None:
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.01))
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=1.5) as watch:
            store.create(lease("leader", "me"))
            renewals = threading.Thread(
                target=paced,
                args=(
                    20,
                    lambda index: store.patch(
                        "Lease",
                        "leader",
                        {"spec": {"holderIdentity": f"me{index}"}},
                        "kosmos-system",
                    ),
                ),
            )
            renewals.start()  # a leader renewing its lease
            assert list(watch) == []
            renewals.join()

        assert len(polls) <= 3  # each renewal would have woken it, polling twice
    finally:
        store.close()


def test_objects_created_together_are_announced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced: list[set[str]] = []
    original = backend.announce_writes
    monkeypatch.setattr(
        backend,
        "announce_writes",
        lambda directory, kinds: (announced.append(set(kinds)), original(directory, kinds)),
    )
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=1.0))
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=5.0) as watch:
            store.create_many([config_map(f"cm{index}", {}) for index in range(10)])
            events = take(watch, 10)

        # one commit wakes the watches of the kind once, and they find all ten objects;
        # a commit each woke every floater of a cluster once per plan the doctor wrote
        assert announced == [{"ConfigMap"}]
        assert summary(events) == [("ADDED", f"cm{index}") for index in range(10)]
    finally:
        store.close()


def seconds_to_see_a_late_write(store: SqliteStore, watch: SqliteWatch, after: float) -> float:
    """Create a ConfigMap ``after`` seconds from now; how long the watch took to report it."""
    threading.Timer(after, lambda: store.create(config_map("late", {}))).start()
    began = time.monotonic()
    events = take(watch, 1)
    assert summary(events) == [("ADDED", "late")]
    return time.monotonic() - began


def test_a_removed_signal_file_is_followed_again(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", SLOW_POLLING)
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=20) as watch:
            threading.Timer(
                0.3, (changes.kinds_directory(tmp_path / "a.db") / "ConfigMap").unlink
            ).start()
            assert seconds_to_see_a_late_write(store, watch, after=1.0) < 5.0
    finally:
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


def _in_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changes.kinds_directory(tmp_path / "a.db").write_text("a file where the directory goes")


def _no_inotify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(changes, "INotify", unavailable)


@pytest.mark.parametrize("obstacle", [_no_inotify, _in_the_way], ids=["no inotify", "no directory"])
def test_watches_poll_when_writes_cannot_be_followed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    obstacle: Callable[[Path, pytest.MonkeyPatch], None],
) -> None:
    obstacle(tmp_path, monkeypatch)
    store = SqliteStore(tmp_path / "a.db", SqliteOptions(poll_interval=0.05, idle_poll_interval=30))
    try:
        start = store.list("ConfigMap").resource_version
        with store.watch("ConfigMap", resource_version=start, timeout_seconds=10) as watch:
            assert seconds_to_see_a_late_write(store, watch, after=0.5) < 5.0
    finally:
        store.close()
