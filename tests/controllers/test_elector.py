"""The elector: the node of the leading replica, and only it, holds its cluster's gateway role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clusterlink.controllers.elector import GatewayRoleKeeper, gateway_elector
from clusterlink.controllers.leader import LeaderElector, LeaseTiming
from clusterlink.store import ObjectStore
from tests.controllers.support import eventually, sqlite_store

FAST = LeaseTiming(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)
SLOW = LeaseTiming(lease_duration=60.0, renew_deadline=30.0, retry_period=0.1)


def cluster_node(cluster: str, node: str, roles: list[str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "ClusterNode",
        "metadata": {"name": f"{cluster}-{node}", "labels": {"kosmos.io/cluster": cluster}},
        "spec": {"clusterName": cluster, "nodeName": node, "roles": roles or []},
    }


@pytest.fixture
def control(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path, "control")
    opened.create(cluster_node("a", "n1"))
    opened.create(cluster_node("a", "n2"))
    opened.create(cluster_node("b", "n1", ["gateway"]))
    yield opened
    opened.close()


@pytest.fixture
def member(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path, "member-a")
    yield opened
    opened.close()


@dataclass(frozen=True)
class Replica:
    """One elector replica: its lease candidate and the role keeper it runs while leading."""

    elector: LeaderElector
    keeper: GatewayRoleKeeper

    @property
    def is_leader(self) -> bool:
        return self.elector.is_leader

    @property
    def identity(self) -> str:
        return self.elector.identity

    def stop(self, *, release: bool = True) -> None:
        self.elector.stop(release=release)


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.stop()


def start_replica(
    replicas: list[Replica],
    control: ObjectStore,
    member: ObjectStore,
    node: str,
    timing: LeaseTiming = FAST,
) -> Replica:
    keeper = GatewayRoleKeeper(control, "a", node)
    replica = Replica(gateway_elector(keeper, member, identity=node, timing=timing), keeper)
    replica.elector.start()
    replicas.append(replica)
    return replica


def roles(store: ObjectStore) -> dict[str, list[str]]:
    return {d["metadata"]["name"]: d["spec"]["roles"] for d in store.list("ClusterNode").items}


def gateways(store: ObjectStore, cluster: str = "a") -> set[str]:
    return {
        name
        for name, held in roles(store).items()
        if name.startswith(f"{cluster}-") and "gateway" in held
    }


def leader_of(replicas: list[Replica]) -> Replica:
    return eventually(lambda: next((r for r in replicas if r.is_leader), None))


def test_exactly_the_leaders_node_holds_the_role(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    for node in ("n1", "n2"):
        start_replica(replicas, control, member, node)
    leader = leader_of(replicas)
    eventually(lambda: gateways(control) == {f"a-{leader.identity}"})
    for _ in range(10):
        assert gateways(control) == {f"a-{leader.identity}"}
        assert sum(r.is_leader for r in replicas) == 1
        time.sleep(0.05)
    assert leader.keeper is not None
    gauge = leader.keeper.metrics.registry.get_sample_value(
        "clusterlink_elector_gateway", {"cluster": "a", "node": leader.identity}
    )
    assert gauge == 1.0


def test_a_stopped_leader_hands_the_role_over_without_waiting_for_the_lease(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    first = start_replica(replicas, control, member, "n1", SLOW)
    eventually(lambda: gateways(control) == {"a-n1"})
    start_replica(replicas, control, member, "n2", SLOW)
    first.stop(release=True)
    eventually(lambda: gateways(control) == {"a-n2"}, timeout=10)  # far below the 60 s lease


def test_a_crashed_leader_loses_the_role_once_its_lease_expires(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    first = start_replica(replicas, control, member, "n1")
    eventually(lambda: gateways(control) == {"a-n1"})
    start_replica(replicas, control, member, "n2")
    first.stop(release=False)  # as a crash: the lease is left to expire
    eventually(lambda: gateways(control) == {"a-n2"}, timeout=10)


def test_the_cluster_never_goes_without_a_gateway_during_a_switch(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    first = start_replica(replicas, control, member, "n1")
    eventually(lambda: gateways(control) == {"a-n1"})
    listed = control.list("ClusterNode")
    held = {d["metadata"]["name"]: d["spec"]["roles"] for d in listed.items}
    start_replica(replicas, control, member, "n2")
    first.stop(release=True)
    eventually(lambda: gateways(control) == {"a-n2"})

    seen_holders = []
    with control.watch(
        "ClusterNode", resource_version=listed.resource_version, timeout_seconds=0.5
    ) as watch:
        for event in watch:
            held[event.object["metadata"]["name"]] = event.object["spec"]["roles"]
            seen_holders.append(
                {n for n, r in held.items() if n.startswith("a-") and "gateway" in r}
            )
    assert seen_holders[-1] == {"a-n2"}
    assert all(seen_holders), f"a state without gateway: {seen_holders}"


def test_other_roles_and_other_clusters_are_left_alone(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    control.patch("ClusterNode", "a-n1", {"spec": {"roles": ["edge"]}})
    control.patch("ClusterNode", "a-n2", {"spec": {"roles": ["Gateway", "ingress"]}})
    other_cluster = control.get("ClusterNode", "b-n1")
    start_replica(replicas, control, member, "n1")
    eventually(lambda: roles(control)["a-n2"] == ["ingress"])
    assert roles(control)["a-n1"] == ["edge", "gateway"]
    assert control.get("ClusterNode", "b-n1") == other_cluster


def test_the_leader_waits_for_its_cluster_node_and_keeps_the_old_gateway_meanwhile(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    control.patch("ClusterNode", "a-n1", {"spec": {"roles": ["gateway"]}})
    replica = start_replica(replicas, control, member, "n3")
    eventually(lambda: replica.is_leader)
    assert replica.keeper is not None
    eventually(
        lambda: (
            replica.keeper is not None
            and replica.keeper.metrics.registry.get_sample_value(
                "clusterlink_elector_waiting_for_clusternode"
            )
        )
    )
    assert gateways(control) == {"a-n1"}
    control.create(cluster_node("a", "n3"))
    eventually(lambda: gateways(control) == {"a-n3"})


def test_a_role_changed_by_someone_else_is_repaired(
    control: ObjectStore, member: ObjectStore, replicas: list[Replica]
) -> None:
    start_replica(replicas, control, member, "n1")
    eventually(lambda: gateways(control) == {"a-n1"})
    control.patch("ClusterNode", "a-n1", {"spec": {"roles": []}})
    control.patch("ClusterNode", "a-n2", {"spec": {"roles": ["gateway"]}})
    eventually(lambda: gateways(control) == {"a-n1"})
