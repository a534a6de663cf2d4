"""Helpers for controller tests: stores in temporary files and bounded waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from clusterlink.api.models import Cluster, ClusterNode
from clusterlink.api.serialization import to_document
from clusterlink.store import ObjectStore, open_store

T = TypeVar("T")
WAIT_SECONDS = 15.0


def sqlite_store(directory: Path, name: str = "control") -> ObjectStore:
    return open_store(f"sqlite://{directory / f'{name}.db'}?poll_interval=0.01")


def eventually(check: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
    """The first truthy result of ``check``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(0.02)


def put(store: ObjectStore, obj: Cluster | ClusterNode) -> None:
    """Create or replace an object, status included (as its controllers would write it)."""
    document = to_document(obj)
    kind, name = document["kind"], document["metadata"]["name"]
    document["metadata"].pop("resourceVersion", None)
    try:
        current = store.get(kind, name)
    except Exception:
        current = None
    if current is None:
        stored = store.create(document)
    else:
        stored = store.update({**document, "metadata": current["metadata"]})
    if document.get("status"):
        store.update_status({**stored, "status": document["status"]})
