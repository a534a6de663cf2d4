"""``clusterlink network-manager`` as a process: probes, leader election, clean shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO

import pytest

from clusterlink.store import ObjectStore
from tests.controllers.support import eventually, put, sqlite_store
from tests.unit.federations import cluster, cluster_node


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    store = sqlite_store(tmp_path)
    put(store, cluster("a", "p2p", ["10.1.0.0/16"], []))
    put(store, cluster("b", "p2p", ["10.2.0.0/16"], []))
    put(store, cluster_node("a-n1", "a", "192.168.1.1", gateway=True))
    put(store, cluster_node("b-n1", "b", "192.168.2.1", gateway=True))
    store.close()
    return tmp_path / "control.db"


def start_manager(store_path: Path, identity: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clusterlink.cli.components",
            "network-manager",
            "--store",
            f"sqlite://{store_path}?poll_interval=0.01",
            "--identity",
            identity,
            "--log-format",
            "json",
            "--probe-port",
            "0",
            "--lease-duration",
            "1",
            "--renew-deadline",
            "0.6",
            "--retry-period",
            "0.1",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )


def probe_port(stream: IO[str]) -> int:
    for line in stream:
        entry = json.loads(line)
        if "/healthz" in entry["msg"]:
            return int(entry["msg"].rsplit(" ", 1)[1])
    raise AssertionError("the process never announced its probe port")


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return error.code


def holder(store: ObjectStore) -> str:
    lease = store.get("Lease", "network-manager", "kosmos-system")
    return str(lease["spec"]["holderIdentity"])


def test_leader_writes_follower_takes_over_on_sigterm(store_path: Path) -> None:
    first = start_manager(store_path, "first")
    second = start_manager(store_path, "second")
    store = sqlite_store(store_path.parent)
    try:
        assert first.stderr is not None
        assert second.stderr is not None
        ports = {"first": probe_port(first.stderr), "second": probe_port(second.stderr)}
        eventually(lambda: len(store.list("NodeConfig").items) == 2)
        leader = eventually(lambda: holder(store))
        follower = "second" if leader == "first" else "first"
        assert get(ports[leader], "/healthz") == 200
        eventually(lambda: get(ports[leader], "/readyz") == 200)
        assert get(ports[follower], "/readyz") == 503  # not leading: not serving
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports[leader]}/metrics").read()
        assert b"clusterlink_network_manager_writes_total" in metrics

        (first if leader == "first" else second).send_signal(signal.SIGTERM)
        assert (first if leader == "first" else second).wait(timeout=15) == 0
        eventually(lambda: holder(store) == follower)
        store.delete("ClusterNode", "b-n1")
        eventually(lambda: len(store.list("NodeConfig").items) == 1)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=15)
        store.close()
