"""The long-running agent on a real namespace: applies its NodeConfig, reports status, keeps
state when it knows too little, and removes it only when its NodeConfig is deleted."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.controllers.agent import Agent
from clusterlink.dataplane import read_state
from clusterlink.store import ObjectStore
from tests.controllers.support import UnreachableStore, eventually, sqlite_store
from tests.namespaces import namespace_marks

pytestmark = namespace_marks(("ip",))


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace with an ``eth0`` (one end of a veth pair kept inside it) and ``lo`` up."""
    name = f"cltest-agent-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
        sh("ip", "-n", name, "addr", "add", "192.168.77.1/24", "dev", "eth0")
        for device in ("lo", "eth0", "peer0"):
            sh("ip", "-n", name, "link", "set", device, "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path)
    yield opened
    opened.close()


def spec(*cidrs: str) -> dict[str, Any]:
    return {
        "devices": [
            {
                "type": "vxlan",
                "name": "vx-bridge",
                "addr": "198.19.77.1/16",
                "mac": "aa:00:00:00:77:01",
                "bindDev": "eth0",
                "id": 54,
                "port": 4876,
            }
        ],
        "routes": [{"cidr": cidr, "gw": "198.19.77.2", "dev": "vx-bridge"} for cidr in cidrs],
        "fdbs": [
            {"ip": "192.168.77.2", "mac": "00:00:00:00:00:00", "dev": "vx-bridge"},
            {"ip": "192.168.77.2", "mac": "aa:00:00:00:77:02", "dev": "vx-bridge"},
        ],
        "arps": [{"ip": "198.19.77.2", "mac": "aa:00:00:00:77:02", "dev": "vx-bridge"}],
    }


def node_config(routes: tuple[str, ...] = ("10.9.0.0/16",)) -> dict[str, Any]:
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "NodeConfig",
        "metadata": {"name": "a-n1"},
        "spec": spec(*routes),
    }


def routes_in(netns: str) -> set[str]:
    return {route.cidr for route in read_state(netns).routes}


def applied(store: ObjectStore, generation: int) -> dict[str, Any] | None:
    status = store.get("NodeConfig", "a-n1").get("status") or {}
    if status.get("observedGeneration") != generation:
        return None
    return status


@pytest.fixture
def agent(store: ObjectStore, netns: str) -> Iterator[Agent]:
    running = Agent(store, "a", "n1", netns=netns, resync_period=0.5, detect_interface=False)
    running.start()
    yield running
    running.stop()


def test_a_nodeconfig_is_applied_and_its_status_written(
    store: ObjectStore, netns: str, agent: Agent
) -> None:
    store.create(node_config())
    eventually(lambda: routes_in(netns) == {"10.9.0.0/16"})
    status = eventually(lambda: applied(store, 1))
    condition = status["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Applied",
        "True",
        "Converged",
    )
    assert status["lastSyncTime"]
    assert status["lastChangeTime"]

    store.patch("NodeConfig", "a-n1", {"spec": spec("10.9.0.0/16", "10.10.0.0/16")})
    eventually(lambda: routes_in(netns) == {"10.9.0.0/16", "10.10.0.0/16"})
    eventually(lambda: applied(store, 2))


def test_drift_is_repaired_by_the_periodic_resync(
    store: ObjectStore, netns: str, agent: Agent
) -> None:
    store.create(node_config())
    eventually(lambda: routes_in(netns) == {"10.9.0.0/16"})
    sh("ip", "-n", netns, "route", "del", "10.9.0.0/16", "table", "200")
    eventually(lambda: routes_in(netns) == {"10.9.0.0/16"})


def test_an_invalid_spec_is_reported_and_nothing_is_touched(
    store: ObjectStore, netns: str, agent: Agent
) -> None:
    store.create(node_config())
    eventually(lambda: applied(store, 1))
    broken = spec("10.9.0.0/16")
    broken["routes"].append({"cidr": "10.11.0.0/16", "gw": "fd00::1", "dev": "vx-bridge"})
    store.patch("NodeConfig", "a-n1", {"spec": broken})
    status = eventually(lambda: applied(store, 2))
    condition = status["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert "spec.routes[1].gw" in condition["message"]
    assert routes_in(netns) == {"10.9.0.0/16"}


def test_state_is_kept_when_the_nodeconfig_is_unknown_and_removed_when_deleted(
    store: ObjectStore, netns: str
) -> None:
    first = Agent(store, "a", "n1", netns=netns, resync_period=0.2, detect_interface=False)
    first.start()
    store.create(node_config())
    eventually(lambda: routes_in(netns) == {"10.9.0.0/16"})
    first.stop()

    # A restarted agent that cannot find its NodeConfig (another node's store, a lagging
    # cache...) keeps the node as it is through several resync periods.
    elsewhere = Agent(store, "a", "n2", netns=netns, resync_period=0.2, detect_interface=False)
    elsewhere.start()
    try:
        eventually(lambda: elsewhere.caches_synced)
        for _ in range(5):
            assert routes_in(netns) == {"10.9.0.0/16"}
            time.sleep(0.2)
    finally:
        elsewhere.stop()

    second = Agent(store, "a", "n1", netns=netns, resync_period=0.2, detect_interface=False)
    second.start()
    try:
        eventually(lambda: second.ready)
        store.delete("NodeConfig", "a-n1")
        eventually(lambda: not read_state(netns).devices)
        assert routes_in(netns) == set()
    finally:
        second.stop()


def test_state_is_kept_while_the_store_is_unreachable(store: ObjectStore, netns: str) -> None:
    flaky = UnreachableStore(store)
    agent = Agent(
        flaky,
        "a",
        "n1",
        netns=netns,
        resync_period=0.2,  # type: ignore[arg-type]
        detect_interface=False,
    )
    agent.start()
    try:
        store.create(node_config())
        eventually(lambda: applied(store, 1))
        flaky.go_down()
        for _ in range(10):  # many resync periods without a store
            assert routes_in(netns) == {"10.9.0.0/16"}
            time.sleep(0.1)
        flaky.come_back()
        store.patch("NodeConfig", "a-n1", {"spec": spec("10.9.0.0/16", "10.10.0.0/16")})
        eventually(lambda: routes_in(netns) == {"10.9.0.0/16", "10.10.0.0/16"})
        eventually(lambda: applied(store, 2))
    finally:
        agent.stop()
