"""Least privilege: each component is granted exactly the API calls its code makes.

Two links are checked. The generated Roles and ClusterRoles grant exactly the entries of
:mod:`clusterlink.deploy.access`, never ``*``. And that table is exactly what the code
calls: each component runs in-process against recording stores through the scenarios that
make it use every call (create, update, delete, status, leader election, a lost create
race), and the recorded requests must equal its table entries.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.controllers.agent import Agent
from clusterlink.controllers.controller_manager import ControllerManager
from clusterlink.controllers.elector import GatewayRoleKeeper, gateway_elector
from clusterlink.controllers.leader import LeaderElector, LeaseTiming
from clusterlink.controllers.network_manager import NetworkManager
from clusterlink.deploy.access import (
    AGENT,
    CONTROLLER_MANAGER,
    CONTROLLER_MANAGER_LEASE,
    ELECTOR,
    NETWORK_MANAGER,
    NETWORK_MANAGER_LEASE,
    Access,
    ComponentAccess,
)
from clusterlink.deploy.rbac import api_resource, resolved_names, resolved_namespace
from clusterlink.deploy.settings import DEFAULT_NAMESPACE
from clusterlink.planner import stable_mac
from clusterlink.store import ObjectStore
from tests.controllers.support import eventually, put, sqlite_store
from tests.unit.federations import cluster, cluster_node

from .conftest import MEMBER, every_manifest
from .recording import Call, RecordingStore

TIMING = LeaseTiming(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)


def allows(access: Access, verb: str, call: Call, cluster: str) -> bool:
    """Whether ``access`` grants ``verb`` and lets ``call`` (a use of ``verb``) through, as
    the RBAC authorizer would."""
    names = resolved_names(access, cluster)
    return (
        verb in access.verbs
        and (access.kind, access.subresource, verb) == (call.kind, call.subresource, call.verb)
        and resolved_namespace(access, DEFAULT_NAMESPACE) in (None, call.namespace)
        and (not names or call.name in names)
    )


def assert_matches(
    access: ComponentAccess, control: set[Call], member: set[Call], cluster: str = ""
) -> None:
    """Every call is allowed by an entry, and every entry's every verb is used by a call."""
    for calls, table in ((control, access.control), (member, access.member)):
        denied = [c for c in calls if not any(allows(e, c.verb, c, cluster) for e in table)]
        unused = [
            (entry.kind, entry.subresource, verb, entry.resource_names)
            for entry in table
            for verb in sorted(entry.verbs)
            if not any(allows(entry, verb, call, cluster) for call in calls)
        ]
        assert denied == []
        assert unused == []


# --- the generated RBAC grants exactly the table ------------------------------------------


def test_no_rule_anywhere_uses_a_wildcard() -> None:
    for manifest in every_manifest():
        for rule in manifest.get("rules", []):
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert "*" not in rule.get(field, []), manifest["metadata"]["name"]


Grant = tuple[str, str, str, str | None, tuple[str, ...]]
"""(api group, resource, verb, namespace or None, resource names): one granted permission."""


def granted(role_name: str) -> set[Grant]:
    found: set[Grant] = set()
    for manifest in every_manifest():
        if manifest["kind"] not in ("Role", "ClusterRole"):
            continue
        if manifest["metadata"]["name"] != role_name:
            continue
        for rule in manifest["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        found.add(
                            (
                                group,
                                resource,
                                verb,
                                manifest["metadata"].get("namespace"),
                                tuple(rule.get("resourceNames", ())),
                            )
                        )
    return found


def expected(accesses: tuple[Access, ...]) -> set[Grant]:
    made: set[Grant] = set()
    for access in accesses:
        group, plural = api_resource(access.kind)
        resource = f"{plural}/{access.subresource}" if access.subresource else plural
        for verb in access.verbs:
            made.add(
                (
                    group,
                    resource,
                    verb,
                    resolved_namespace(access, DEFAULT_NAMESPACE),
                    resolved_names(access, MEMBER),
                )
            )
    return made


@pytest.mark.parametrize(
    ("role", "accesses"),
    [
        ("clusterlink-network-manager", NETWORK_MANAGER.control),
        (f"clusterlink-{MEMBER}-controller-manager", CONTROLLER_MANAGER.control),
        (f"clusterlink-{MEMBER}-elector", ELECTOR.control),
        (f"clusterlink-{MEMBER}-agent", AGENT.control),
        ("clusterlink-controller-manager", CONTROLLER_MANAGER.member),
        ("clusterlink-elector", ELECTOR.member),
    ],
)
def test_each_role_grants_exactly_its_table_entries(
    role: str, accesses: tuple[Access, ...]
) -> None:
    assert granted(role) == expected(accesses)


def test_the_agent_gets_no_member_api_access() -> None:
    assert AGENT.member == ()
    assert granted("clusterlink-agent") == set()


def test_every_member_identity_is_bound_to_its_own_role_only() -> None:
    bound = {
        (m["subjects"][0]["name"], m["roleRef"]["name"])
        for m in every_manifest()
        if m["kind"] == "ClusterRoleBinding"
        and m["metadata"]["name"].startswith(f"clusterlink-{MEMBER}-")
    }

    assert bound == {
        (f"clusterlink-{MEMBER}-{c}", f"clusterlink-{MEMBER}-{c}")
        for c in ("agent", "elector", "controller-manager")
    }


def test_a_member_may_read_only_its_own_cluster_object() -> None:
    for component in ("agent", "controller-manager"):
        (role,) = [
            m
            for m in every_manifest()
            if m["kind"] == "ClusterRole"
            and m["metadata"]["name"] == f"clusterlink-{MEMBER}-{component}"
        ]
        cluster_rules = [r for r in role["rules"] if r["resources"][0].startswith("clusters")]
        assert cluster_rules
        assert all(rule["resourceNames"] == [MEMBER] for rule in cluster_rules)


# --- the table is what the code calls -----------------------------------------------------


@pytest.fixture
def control(tmp_path: Path) -> Iterator[ObjectStore]:
    store = sqlite_store(tmp_path, "control")
    yield store
    store.close()


@pytest.fixture
def member(tmp_path: Path) -> Iterator[ObjectStore]:
    store = sqlite_store(tmp_path, "member")
    yield store
    store.close()


def leading(elector: LeaderElector) -> Callable[[], bool]:
    return lambda: elector.is_leader


def renewed(recording: RecordingStore) -> Callable[[], bool]:
    return lambda: any(c.kind == "Lease" and c.verb == "update" for c in recording.calls)


def test_the_network_manager_calls_exactly_its_table(control: ObjectStore) -> None:
    for obj in (
        cluster("a", "gateway", ["10.1.0.0/16"], ["11.1.0.0/16"]),
        cluster_node("a-n1", "a", "192.168.1.1", gateway=True, pod_cidrs=["10.1.1.0/24"]),
        cluster_node("a-n2", "a", "192.168.1.2", pod_cidrs=["10.1.2.0/24"]),
    ):
        put(control, obj)
    recording = RecordingStore(control, lose_first_create_of=frozenset({"NodeConfig"}))
    manager = NetworkManager(recording, mac_source=stable_mac)
    elector = LeaderElector(
        recording, NETWORK_MANAGER_LEASE, DEFAULT_NAMESPACE, "manager-0", TIMING
    )
    elector.on_started_leading = manager.start
    elector.start()
    try:
        eventually(lambda: len(control.list("NodeConfig").items) == 2)
        put(control, cluster_node("a-n2", "a", "192.168.1.22", pod_cidrs=["10.1.2.0/24"]))
        eventually(
            lambda: any(c.kind == "NodeConfig" and c.verb == "update" for c in recording.calls)
        )
        control.delete("ClusterNode", "a-n2")
        eventually(lambda: len(control.list("NodeConfig").items) == 1)
        eventually(renewed(recording))
    finally:
        elector.stop(release=True)
        manager.stop()

    assert_matches(NETWORK_MANAGER, recording.calls, set())


def node(name: str, pod_cidr: str, address: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"podCIDRs": [pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }


def calico_pool(name: str, cidr: str) -> dict[str, Any]:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {"cidr": cidr, "natOutgoing": True},
    }


def test_the_controller_manager_calls_exactly_its_table(
    control: ObjectStore, member: ObjectStore
) -> None:
    control.create(
        {
            "apiVersion": "kosmos.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "a"},
            "spec": {"clusterLinkOptions": {"networkType": "gateway"}},
        }
    )
    member.create(node("n1", "10.1.1.0/24", "192.168.1.1"))
    member.create(node("n2", "10.1.2.0/24", "192.168.1.2"))
    member.create(calico_pool("default-ipv4-ippool", "10.1.0.0/16"))
    control.create(
        {
            "apiVersion": "kosmos.io/v1alpha1",
            "kind": "NodeConfig",
            "metadata": {"name": "a-n1", "labels": {"kosmos.io/cluster": "a"}},
            "spec": {"routes": [{"cidr": "10.2.0.0/16", "gw": "198.18.0.1", "dev": "vx-local"}]},
        }
    )
    recorded_control, recorded_member = RecordingStore(control), RecordingStore(member)
    manager = ControllerManager(recorded_control, recorded_member, "a")
    elector = LeaderElector(
        recorded_member, CONTROLLER_MANAGER_LEASE, DEFAULT_NAMESPACE, "cm-0", TIMING
    )
    elector.on_started_leading = manager.start
    elector.start()
    try:
        eventually(lambda: len(control.list("ClusterNode").items) == 2)
        # a remote CIDR: its disabled IPPool is created, restored after drift, then deleted
        ours = "clusterlink-10-2-0-0-16"
        eventually(lambda: ours in {p["metadata"]["name"] for p in member.list("IPPool").items})
        member.patch("IPPool", ours, {"spec": {"natOutgoing": True}})
        eventually(lambda: member.get("IPPool", ours)["spec"]["natOutgoing"] is False)
        control.patch("NodeConfig", "a-n1", {"spec": {"routes": []}})
        eventually(lambda: len(member.list("IPPool").items) == 1)
        member.patch("Node", "n1", {"spec": {"podCIDRs": ["10.1.9.0/24"]}})
        eventually(
            lambda: control.get("ClusterNode", "a-n1")["spec"]["podCIDRs"] == ["10.1.9.0/24"]
        )
        member.delete("Node", "n2")
        eventually(lambda: len(control.list("ClusterNode").items) == 1)
        eventually(lambda: (control.get("Cluster", "a").get("status") or {}).get("conditions"))
        eventually(renewed(recorded_member))
    finally:
        elector.stop(release=True)
        manager.stop()

    assert_matches(CONTROLLER_MANAGER, recorded_control.calls, recorded_member.calls, "a")


def test_the_elector_calls_exactly_its_table(control: ObjectStore, member: ObjectStore) -> None:
    put(control, cluster_node("a-n1", "a", "192.168.1.1", pod_cidrs=["10.1.1.0/24"]))
    recorded_control, recorded_member = RecordingStore(control), RecordingStore(member)
    keeper = GatewayRoleKeeper(recorded_control, "a", "n1")
    elector = gateway_elector(keeper, recorded_member, "n1", TIMING)
    elector.start()
    try:
        eventually(lambda: control.get("ClusterNode", "a-n1")["spec"].get("roles") == ["gateway"])
        eventually(renewed(recorded_member))
    finally:
        elector.stop(release=True)

    assert_matches(ELECTOR, recorded_control.calls, recorded_member.calls, "a")


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace of our own with ``eth0`` up and addressed."""
    name = f"cltest-rbac-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        for argv in (
            ["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
            ["ip", "-n", name, "addr", "add", "192.168.78.1/24", "dev", "eth0"],
            ["ip", "-n", name, "link", "set", "eth0", "up"],
            ["ip", "-n", name, "link", "set", "peer0", "up"],
        ):
            subprocess.run(argv, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the agent converges a network namespace: needs root")
def test_the_agent_calls_exactly_its_table(control: ObjectStore, netns: str) -> None:
    control.create(
        {
            "apiVersion": "kosmos.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "a"},
            "spec": {"clusterLinkOptions": {"networkType": "gateway", "defaultNICName": "eth0"}},
        }
    )
    put(control, cluster_node("a-n1", "a", pod_cidrs=["10.1.1.0/24"], interface=""))
    control.create(
        {
            "apiVersion": "kosmos.io/v1alpha1",
            "kind": "NodeConfig",
            "metadata": {"name": "a-n1"},
            "spec": {},
        }
    )
    recording = RecordingStore(control)
    agent = Agent(recording, "a", "n1", netns=netns, resync_period=0.2)
    agent.start()
    try:
        eventually(lambda: control.get("NodeConfig", "a-n1").get("status") or {})
        eventually(lambda: control.get("ClusterNode", "a-n1")["spec"].get("ip"))
    finally:
        agent.stop()

    assert_matches(AGENT, recording.calls, set(), "a")
