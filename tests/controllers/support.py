"""Helpers for controller tests: stores in temporary files and bounded waiting."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from clusterlink.api.models import Cluster, ClusterNode
from clusterlink.api.serialization import to_document
from clusterlink.store import (
    ConflictError,
    NotFoundError,
    ObjectStore,
    UnavailableError,
    Watch,
    open_store,
)

T = TypeVar("T")
WAIT_SECONDS = 15.0
CONFLICT_RETRIES = 20


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
    """Create or replace an object, status included (as its controllers would write it).

    A running network manager writes conditions into the same objects' status meanwhile, so
    a replacement that loses the race to it is tried again and the status is merge-patched.
    """
    document = to_document(obj)
    kind, name = document["kind"], document["metadata"]["name"]
    document["metadata"].pop("resourceVersion", None)
    for _ in range(CONFLICT_RETRIES):
        try:
            _create_or_replace(store, document)
            break
        except ConflictError:
            continue
    else:
        raise AssertionError(f"{kind} {name}: still conflicting after {CONFLICT_RETRIES} tries")
    if document.get("status"):
        store.patch_status(kind, name, {"status": document["status"]})


def _create_or_replace(store: ObjectStore, document: dict[str, Any]) -> None:
    try:
        current = store.get(document["kind"], document["metadata"]["name"])
    except NotFoundError:
        store.create(document)
    else:
        store.update({**document, "metadata": current["metadata"]})


FAST_LEASE = ("--lease-duration", "1", "--renew-deadline", "0.6", "--retry-period", "0.1")


def start_component(*arguments: str) -> subprocess.Popen[str]:
    """``clusterlink ARGUMENTS...`` as a process: JSON logs on a pipe, probes on a free port."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clusterlink.cli.components",
            *arguments,
            "--log-format",
            "json",
            "--probe-port",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )


def probe_port(process: subprocess.Popen[str]) -> int:
    """The port a component process announced for its probes."""
    assert process.stderr is not None
    for line in process.stderr:
        entry = json.loads(line)
        if "/healthz" in entry["msg"]:
            return int(entry["msg"].rsplit(" ", 1)[1])
    raise AssertionError("the process never announced its probe port")


def http_get(port: int, path: str) -> tuple[int, str]:
    """Status and body of a GET on loopback."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def lease_holder(store: ObjectStore, name: str, namespace: str = "kosmos-system") -> str:
    return str(store.get("Lease", name, namespace)["spec"]["holderIdentity"])


def terminate(process: subprocess.Popen[str]) -> int:
    """SIGTERM a process this test started (by PID) and wait for its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=15)


class UnreachableStore:
    """Wraps a store; after :meth:`go_down` every call fails as an unreachable API would,
    and open watches are cut, until :meth:`come_back`."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._watches: list[Watch] = []
        self.down = False

    def go_down(self) -> None:
        self.down = True
        for watch in self._watches:
            watch.stop()

    def come_back(self) -> None:
        self.down = False

    def __getattr__(self, name: str) -> object:
        target = getattr(self._store, name)
        if not callable(target) or name == "close":
            return target

        def call(*args: object, **kwargs: object) -> object:
            if self.down:
                raise UnavailableError("the store is unreachable (test)")
            result = target(*args, **kwargs)
            if name == "watch":
                self._watches.append(result)
            return result

        return call
