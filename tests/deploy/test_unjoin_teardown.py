"""Unjoin and uninstall leave the member's nodes clean, on sqlite stores with a real
network-manager and controller-manager running in-process.

A node's tunnels, routes and chains go only when its (running) agent sees its NodeConfig
deleted, so the agents' DaemonSet must outlive the NodeConfigs. The member's cluster is
written to an in-memory target that holds workloads (the store holds none); every
deletion is recorded with the NodeConfigs of the cluster still stored at that moment,
which is what the order is judged by.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clusterlink.api.constants import CONTROL_CLUSTER_NAME, LABEL_CLUSTER
from clusterlink.controllers.controller_manager import ControllerManager
from clusterlink.controllers.network_manager import NetworkManager
from clusterlink.deploy.joining import JoinOptions
from clusterlink.deploy.lifecycle import (
    Endpoint,
    Timeouts,
    install,
    join,
    remove_remote_cidr_pools,
    uninstall,
    unjoin,
)
from clusterlink.deploy.store_target import StoreTarget
from clusterlink.deploy.targets import KIND_ORDER, ObjectId, ObjectTarget
from clusterlink.planner import stable_mac
from clusterlink.store import ObjectStore, open_store
from tests.cli.install_support import MemoryTarget, RecordingReporter
from tests.controllers.support import eventually

FAST = Timeouts(teardown=15.0, grace=0.0)
WORKLOAD_AND_RBAC_KINDS = frozenset(KIND_ORDER) - {"CustomResourceDefinition"}
"""What the memory stands in for: no API server marks a CRD established there."""


def sqlite(path: Path) -> tuple[str, ObjectStore]:
    url = f"sqlite://{path}?poll_interval=0.01"
    return url, open_store(url)


def node_document(name: str, ip: str, pod_cidr: str) -> dict[str, Any]:
    """A Node as its kubelet reports it: the controller-manager's input."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
    }


def add_nodes(store: ObjectStore, subnet: int) -> None:
    """Two Nodes, as their kubelets write them (the addresses through the status)."""
    for index in (1, 2):
        document = node_document(
            f"node{index}", f"192.168.{subnet}.{index}", f"10.{subnet}.{index}.0/24"
        )
        created = store.create(document)
        store.update_status({**created, "status": document["status"]})


@dataclass
class Deletions:
    """Every deletion through a recorded target, with the watched cluster's NodeConfigs
    still stored when it happened."""

    control: ObjectStore
    cluster: str = ""
    seen: list[tuple[ObjectId, tuple[str, ...]]] = field(default_factory=list)

    def node_configs(self) -> tuple[str, ...]:
        selector = f"{LABEL_CLUSTER}={self.cluster}"
        listed = self.control.list("NodeConfig", label_selector=selector).items
        return tuple(sorted(str(o["metadata"]["name"]) for o in listed))

    def record(self, identity: ObjectId) -> None:
        self.seen.append((identity, self.node_configs()))

    def index_of(self, kind: str, name: str = "") -> int:
        return next(
            i
            for i, (identity, _) in enumerate(self.seen)
            if identity.kind == kind and (not name or identity.name == name)
        )

    def left_when_deleted(self, kind: str, name: str = "") -> tuple[str, ...]:
        return self.seen[self.index_of(kind, name)][1]


@dataclass
class RecordedTarget:
    """Kinds the store holds go to the store, workloads and RBAC to memory;
    deletions are recorded."""

    store: StoreTarget
    memory: MemoryTarget
    deletions: Deletions

    @property
    def description(self) -> str:
        return self.store.description

    def _for(self, kind: str) -> ObjectTarget:
        chosen: ObjectTarget = self.store if self.store.holds(kind) else self.memory
        return chosen

    def holds(self, kind: str) -> bool:
        return self._for(kind).holds(kind)

    def get(self, target: ObjectId) -> dict[str, Any] | None:
        return self._for(target.kind).get(target)

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._for(obj["kind"]).create(obj)

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._for(obj["kind"]).replace(obj)

    def delete(self, target: ObjectId) -> bool:
        deleted = self._for(target.kind).delete(target)
        if deleted:
            self.deletions.record(target)
        return deleted

    def list_labelled(self, kind: str, label_selector: str) -> list[dict[str, Any]]:
        return self._for(kind).list_labelled(kind, label_selector)

    def close(self) -> None:
        return None


@dataclass
class Federation:
    """A control store with a running network-manager, and members joined to it."""

    directory: Path
    control_url: str
    control_store: ObjectStore
    deletions: Deletions
    manager: NetworkManager | None = None
    running: list[ControllerManager] = field(default_factory=list)
    members: dict[str, Endpoint] = field(default_factory=dict)

    def endpoint(self, label: str, url: str, store: ObjectStore) -> Endpoint:
        memory = MemoryTarget(kinds=WORKLOAD_AND_RBAC_KINDS)
        target = RecordedTarget(StoreTarget(store, f"store {url}"), memory, self.deletions)
        return Endpoint(label, store, target, url)

    @property
    def control(self) -> Endpoint:
        if "control plane" not in self.members:
            self.members["control plane"] = self.endpoint(
                "control plane", self.control_url, self.control_store
            )
        return self.members["control plane"]

    def start_network_manager(self) -> None:
        self.manager = NetworkManager(self.control_store, mac_source=stable_mac)
        self.manager.start()

    def stop_network_manager(self) -> None:
        if self.manager is not None:
            self.manager.stop()
            self.manager = None

    def run_controller_manager(self, name: str, member: ObjectStore) -> None:
        running = ControllerManager(self.control_store, member, name)
        running.start()
        self.running.append(running)

    def stop_controller_managers(self) -> None:
        for running in self.running:
            running.stop()
        self.running.clear()

    def join_member(self, name: str, subnet: int) -> Endpoint:
        url, store = sqlite(self.directory / f"{name}.db")
        add_nodes(store, subnet)
        member = self.endpoint(name, url, store)
        self.members[name] = member
        join(self.control, member, options(name, subnet), RecordingReporter())
        self.run_controller_manager(name, store)
        return member

    def node_configs(self, cluster: str) -> list[str]:
        selector = f"{LABEL_CLUSTER}={cluster}"
        listed = self.control_store.list("NodeConfig", label_selector=selector).items
        return sorted(str(o["metadata"]["name"]) for o in listed)

    def cluster_nodes(self, cluster: str) -> list[str]:
        selector = f"{LABEL_CLUSTER}={cluster}"
        listed = self.control_store.list("ClusterNode", label_selector=selector).items
        return sorted(str(o["metadata"]["name"]) for o in listed)

    def routes_of(self, node_config: str) -> set[str]:
        spec = self.control_store.get("NodeConfig", node_config).get("spec") or {}
        return {str(route["cidr"]) for route in spec.get("routes") or []}

    def report_interfaces(self, cluster: str) -> None:
        """What each node's agent does once its ClusterNode exists: report its NIC."""
        expected = [f"{cluster}-node1", f"{cluster}-node2"]
        eventually(lambda: self.cluster_nodes(cluster) == expected)
        for name in expected:
            self.control_store.patch("ClusterNode", name, {"spec": {"interfaceName": "eth0"}})

    def planned(self, *clusters: str) -> None:
        """Until every node of ``clusters`` has a NodeConfig."""
        for cluster in clusters:
            self.report_interfaces(cluster)
            self.until_node_configs(cluster, [f"{cluster}-node1", f"{cluster}-node2"])

    def until_node_configs(self, cluster: str, expected: list[str]) -> None:
        eventually(lambda: self.node_configs(cluster) == expected)

    def workloads(self, member: str) -> set[ObjectId]:
        target = self.members[member].target
        assert isinstance(target, RecordedTarget)
        return {i for i in target.memory.objects if i.kind in ("Deployment", "DaemonSet")}

    def close(self) -> None:
        self.stop_controller_managers()
        self.stop_network_manager()
        for member in self.members.values():
            if member.store is not self.control_store:
                member.store.close()
        self.control_store.close()


def options(name: str, subnet: int) -> JoinOptions:
    return JoinOptions(
        name=name,
        network_type="p2p",
        default_nic="eth0",
        pod_cidrs=(f"10.{subnet}.0.0/16",),
        service_cidrs=(f"10.{100 + subnet}.0.0/16",),
    )


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    url, store = sqlite(tmp_path / "control.db")
    made = Federation(tmp_path, url, store, Deletions(store))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def two_members(federation: Federation) -> Federation:
    federation.start_network_manager()
    federation.join_member("cluster-a", 1)
    federation.join_member("cluster-b", 2)
    federation.planned("cluster-a", "cluster-b")
    eventually(lambda: "10.1.1.0/24" in federation.routes_of("cluster-b-node1"))
    return federation


def test_unjoin_removes_the_nodeconfigs_before_the_agents_and_leaves_others_alone(
    two_members: Federation,
) -> None:
    federation = two_members
    deletions = federation.deletions
    deletions.cluster = "cluster-a"
    assert federation.cluster_nodes("cluster-a") == ["cluster-a-node1", "cluster-a-node2"]
    reporter = RecordingReporter()

    removed = unjoin(federation.control, federation.members["cluster-a"], "cluster-a", reporter,
                     timeouts=FAST)  # fmt: skip

    writers = [deletions.index_of("Deployment", n) for n in
               ("clusterlink-controller-manager", "clusterlink-elector")]  # fmt: skip
    cluster = deletions.index_of("Cluster", "cluster-a")
    agents = deletions.index_of("DaemonSet", "clusterlink-agent")
    assert max(writers) < cluster < agents
    assert deletions.left_when_deleted("Cluster", "cluster-a") == (
        "cluster-a-node1",
        "cluster-a-node2",
    )
    assert deletions.left_when_deleted("DaemonSet", "clusterlink-agent") == ()
    assert federation.cluster_nodes("cluster-a") == []
    assert federation.node_configs("cluster-a") == []
    assert federation.workloads("cluster-a") == set()
    assert removed > 2
    assert any("waiting for the network-manager" in step for step in reporter.steps)
    assert not any("did not remove" in text for text in reporter.said)
    # the other member keeps everything, minus its routes towards cluster-a
    assert federation.cluster_nodes("cluster-b") == ["cluster-b-node1", "cluster-b-node2"]
    assert federation.node_configs("cluster-b") == ["cluster-b-node1", "cluster-b-node2"]
    assert federation.workloads("cluster-b")
    eventually(lambda: not federation.routes_of("cluster-b-node1") & {"10.1.1.0/24", "10.1.2.0/24"})


def test_a_second_unjoin_finds_nothing_and_does_not_wait(two_members: Federation) -> None:
    federation = two_members
    member = federation.members["cluster-a"]
    unjoin(federation.control, member, "cluster-a", RecordingReporter(), timeouts=FAST)
    again = RecordingReporter()

    started = time.monotonic()
    assert unjoin(federation.control, member, "cluster-a", again, timeouts=FAST) == 0

    assert time.monotonic() - started < 5
    assert again.said == ["nothing was left of the join of cluster-a"]
    assert not any("waiting" in step for step in again.steps)


def test_without_a_network_manager_unjoin_gives_up_naming_what_is_left(
    two_members: Federation,
) -> None:
    federation = two_members
    federation.stop_network_manager()
    federation.stop_controller_managers()  # so the ClusterNodes are the unjoin's to delete
    reporter = RecordingReporter()

    started = time.monotonic()
    unjoin(federation.control, federation.members["cluster-a"], "cluster-a", reporter,
           timeouts=Timeouts(teardown=1.0, grace=0.0))  # fmt: skip

    assert 1.0 <= time.monotonic() - started < 10
    (advice,) = [text for text in reporter.said if "did not remove" in text]
    assert "NodeConfig(s) cluster-a-node1, cluster-a-node2 within 1s" in advice
    assert "keep their ClusterLink state" in advice
    assert "clusterlink agent apply -f -" in advice
    assert "kubectl delete nodeconfigs.kosmos.io cluster-a-node1 cluster-a-node2" in advice
    deleted = {str(a.target) for _, a in reporter.done if a.verb == "deleted"}
    assert {"ClusterNode cluster-a-node1", "ClusterNode cluster-a-node2"} <= deleted
    # it went on: the join is gone, only the NodeConfigs stay
    assert federation.workloads("cluster-a") == set()
    assert federation.cluster_nodes("cluster-a") == []
    assert federation.node_configs("cluster-a") == ["cluster-a-node1", "cluster-a-node2"]


def test_uninstall_removes_the_control_clusters_nodeconfigs_before_its_agents(
    federation: Federation,
) -> None:
    add_nodes(federation.control_store, 3)
    federation.start_network_manager()
    install(federation.control, options(CONTROL_CLUSTER_NAME, 3), RecordingReporter())
    federation.run_controller_manager(CONTROL_CLUSTER_NAME, federation.control_store)
    federation.planned(CONTROL_CLUSTER_NAME)
    deletions = federation.deletions
    deletions.cluster = CONTROL_CLUSTER_NAME

    uninstall(federation.control, RecordingReporter(), timeouts=FAST)

    assert deletions.left_when_deleted("DaemonSet", "clusterlink-agent") == ()
    assert deletions.index_of("Cluster") < deletions.index_of("DaemonSet", "clusterlink-agent")
    network_manager = deletions.index_of("Deployment", "clusterlink-network-manager")
    assert deletions.index_of("DaemonSet", "clusterlink-agent") < network_manager
    assert federation.cluster_nodes(CONTROL_CLUSTER_NAME) == []
    assert federation.node_configs(CONTROL_CLUSTER_NAME) == []
    assert federation.workloads("control plane") == set()


def test_unjoin_removes_the_calico_pools_declared_for_remote_cidrs_and_no_other(
    tmp_path: Path,
) -> None:
    url, member = sqlite(tmp_path / "member.db")
    pools = {
        "clusterlink-10-2-0-0-16": {"app.kubernetes.io/managed-by": "clusterlink"},
        "clusterlink-10-3-0-0-16": {},  # named like ours, not labelled: someone else's
        "default-ipv4-ippool": {},
    }
    for name, labels in pools.items():
        member.create(
            {
                "apiVersion": "crd.projectcalico.org/v1",
                "kind": "IPPool",
                "metadata": {"name": name, "labels": labels},
                "spec": {"cidr": "10.9.0.0/16"},
            }
        )
    endpoint = Endpoint("member", member, StoreTarget(member, "member"), url)

    removed = remove_remote_cidr_pools(endpoint, RecordingReporter())

    assert [a.target.name for a in removed] == ["clusterlink-10-2-0-0-16"]
    assert sorted(p["metadata"]["name"] for p in member.list("IPPool").items) == [
        "clusterlink-10-3-0-0-16",
        "default-ipv4-ippool",
    ]
