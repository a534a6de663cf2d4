"""``clusterlink elector`` as two processes: one gateway, probes, handover on SIGTERM."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterlink.store import ObjectStore
from tests.controllers.support import (
    FAST_LEASE,
    eventually,
    http_get,
    lease_holder,
    probe_port,
    sqlite_store,
    start_component,
    terminate,
)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[ObjectStore, ObjectStore]]:
    control = sqlite_store(tmp_path, "control")
    member = sqlite_store(tmp_path, "member-a")
    for node in ("n1", "n2"):
        control.create(
            {
                "apiVersion": "kosmos.io/v1alpha1",
                "kind": "ClusterNode",
                "metadata": {"name": f"a-{node}", "labels": {"kosmos.io/cluster": "a"}},
                "spec": {"clusterName": "a", "nodeName": node},
            }
        )
    yield control, member
    member.close()
    control.close()


@pytest.fixture
def processes() -> Iterator[dict[str, subprocess.Popen[str]]]:
    started: dict[str, subprocess.Popen[str]] = {}
    yield started
    for process in started.values():
        terminate(process)


def start_elector(directory: Path, node: str) -> subprocess.Popen[str]:
    return start_component(
        "elector",
        "--cluster",
        "a",
        "--node",
        node,
        "--identity",
        node,
        "--store",
        f"sqlite://{directory / 'control.db'}?poll_interval=0.01",
        "--member-store",
        f"sqlite://{directory / 'member-a.db'}?poll_interval=0.01",
        *FAST_LEASE,
    )


def gateways(store: ObjectStore) -> set[str]:
    return {
        d["metadata"]["name"]
        for d in store.list("ClusterNode").items
        if "gateway" in (d["spec"].get("roles") or [])
    }


def holder(store: ObjectStore) -> str:
    return lease_holder(store, "elector")


def test_the_role_follows_the_lease_when_the_leader_is_terminated(
    tmp_path: Path,
    stores: tuple[ObjectStore, ObjectStore],
    processes: dict[str, subprocess.Popen[str]],
) -> None:
    control, member = stores
    ports = {}
    for node in ("n1", "n2"):
        processes[node] = start_elector(tmp_path, node)
        ports[node] = probe_port(processes[node])
    leader = eventually(lambda: holder(member))
    follower = "n2" if leader == "n1" else "n1"
    eventually(lambda: gateways(control) == {f"a-{leader}"})
    gauge = f'clusterlink_elector_gateway{{cluster="a",node="{leader}"}} 1.0'
    eventually(lambda: gauge in http_get(ports[leader], "/metrics")[1])

    assert terminate(processes[leader]) == 0
    eventually(lambda: gateways(control) == {f"a-{follower}"})
    assert holder(member) == follower
