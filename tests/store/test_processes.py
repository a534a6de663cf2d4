"""Many processes on one store: conflicts between them, and watchers that outlive crashes.

This is how the lab runs: every component is its own process (some in other network
namespaces) on the same store file, and any of them may be killed at any moment.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest

from clusterlink.store import ConflictError, ObjectStore, open_store

from . import workers
from .builders import WAIT_SECONDS, config_map, take
from .conftest import Backend

spawn = multiprocessing.get_context("spawn")


@pytest.fixture
def counter(store: ObjectStore) -> ObjectStore:
    store.create(config_map(workers.COUNTER, {"value": "0"}, namespace=workers.NAMESPACE))
    return store


def run(target: Callable[..., None], *args: object) -> None:
    process = spawn.Process(target=target, args=args)
    process.start()
    process.join(WAIT_SECONDS * 3)
    assert process.exitcode == 0


def test_a_write_from_another_process_makes_a_held_copy_stale(
    counter: ObjectStore, store_url: str
) -> None:
    held = counter.get("ConfigMap", workers.COUNTER, workers.NAMESPACE)
    run(workers.update_once, store_url, "from-elsewhere")

    with pytest.raises(ConflictError):
        counter.update({**held, "data": {"value": "mine"}})
    assert counter.get("ConfigMap", workers.COUNTER, workers.NAMESPACE)["data"] == {
        "value": "from-elsewhere"
    }


def test_concurrent_read_modify_write_from_processes_loses_no_update(
    counter: ObjectStore, store_url: str
) -> None:
    per_process = 40
    processes = [
        spawn.Process(target=workers.increment, args=(store_url, per_process)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(WAIT_SECONDS * 3)

    assert [process.exitcode for process in processes] == [0, 0, 0]
    final = counter.get("ConfigMap", workers.COUNTER, workers.NAMESPACE)
    assert final["data"]["value"] == str(3 * per_process)


def test_a_watcher_in_one_process_sees_writes_from_another(
    store: ObjectStore, store_url: str
) -> None:
    start = store.list("ConfigMap").resource_version
    results = spawn.Queue()
    watcher = spawn.Process(
        target=workers.watch_names, args=(store_url, start, 3, WAIT_SECONDS, results)
    )
    watcher.start()

    run(workers.create_config_maps, store_url, ["one", "two", "three"])

    seen = results.get(timeout=WAIT_SECONDS * 2)
    watcher.join(WAIT_SECONDS)
    assert seen == [("ADDED", "one"), ("ADDED", "two"), ("ADDED", "three")]


def test_a_watcher_survives_a_writer_killed_mid_write(counter: ObjectStore, store_url: str) -> None:
    start = counter.list("ConfigMap").resource_version
    with counter.watch("ConfigMap", resource_version=start, timeout_seconds=WAIT_SECONDS) as watch:
        writer = spawn.Process(target=workers.write_until_killed, args=(store_url,))
        writer.start()
        before_crash = take(watch, 20)
        writer.kill()
        writer.join(WAIT_SECONDS)

        counter.create(config_map("after-crash", {}, namespace=workers.NAMESPACE))
        after_crash = next(
            (event for event in watch if event.object["metadata"]["name"] == "after-crash"), None
        )

    assert len(before_crash) == 20
    assert {event.type for event in before_crash} == {"MODIFIED"}
    assert after_crash is not None
    assert after_crash.type == "ADDED"


def test_many_processes_can_open_a_new_store_at_once(tmp_path: Path, backend: Backend) -> None:
    url = backend.url_for(tmp_path, None)
    processes = [
        spawn.Process(target=workers.create_config_maps, args=(url, [f"from-{index}"]))
        for index in range(6)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(WAIT_SECONDS * 3)

    assert [process.exitcode for process in processes] == [0] * 6
    store = open_store(url)
    try:
        assert len(store.list("ConfigMap").items) == 6
    finally:
        store.close()
