"""Code run in separate processes by the cross-process tests (spawned, so importable)."""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from typing import Any

from clusterlink.store import ConflictError, open_store

COUNTER = "counter"
NAMESPACE = "kosmos-system"


def increment(url: str, times: int) -> None:
    """Read-modify-write the counter ``times`` times, retrying on conflicts."""
    store = open_store(url)
    try:
        for _ in range(times):
            while True:
                current = store.get("ConfigMap", COUNTER, NAMESPACE)
                current["data"]["value"] = str(int(current["data"]["value"]) + 1)
                try:
                    store.update(current)
                    break
                except ConflictError:
                    continue
    finally:
        store.close()


def update_once(url: str, value: str) -> None:
    store = open_store(url)
    try:
        store.patch("ConfigMap", COUNTER, {"data": {"value": value}}, NAMESPACE)
    finally:
        store.close()


def create_config_maps(url: str, names: list[str]) -> None:
    store = open_store(url)
    try:
        for name in names:
            store.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "data": {},
                }
            )
    finally:
        store.close()


def write_until_killed(url: str) -> None:
    """Bump the counter as fast as possible, forever."""
    store = open_store(url)
    value = 0
    while True:
        value += 1
        store.patch("ConfigMap", COUNTER, {"data": {"value": str(value)}}, NAMESPACE)


def watch_names(
    url: str, resource_version: str, count: int, timeout: float, results: Queue[Any]
) -> None:
    """Report the (type, name) of the first ``count`` ConfigMap events after a revision."""
    store = open_store(url)
    try:
        seen: list[tuple[str, str]] = []
        with store.watch(
            "ConfigMap", resource_version=resource_version, timeout_seconds=timeout
        ) as watch:
            for event in watch:
                seen.append((event.type, event.object["metadata"]["name"]))
                if len(seen) == count:
                    break
        results.put(seen)
    finally:
        store.close()


def create_after(url: str, name: str, delay: float) -> None:
    """Create ConfigMap ``name`` after ``delay`` seconds, stamped with the time it is sent."""
    store = open_store(url)
    try:
        time.sleep(delay)
        metadata = {"name": name, "namespace": NAMESPACE}
        data = {"sent": repr(time.time())}
        store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    finally:
        store.close()
