"""End to end, what the other lab tests leave out: host-network traffic across clusters,
bad input in a working federation, and a control plane whose store nobody can reach.

Each test starts its own lab (unique name, removed afterwards by the ``start_lab``
fixture). Waits are bounded and say what was still missing when the bound ran out.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from clusterlink.lab import lab as lab_ops
from clusterlink.lab.addressing import NodePlan
from clusterlink.lab.lab import wait_ready
from clusterlink.lab.processes import is_running
from clusterlink.lab.report import ping_ok
from clusterlink.store import NotFoundError, ObjectStore, open_store
from tests.lab.conftest import LabFactory
from tests.lab.support import (
    KOSMOSCTL,
    RunningLab,
    cross_cluster_pairs,
    eventually,
    unreachable_pairs,
)
from tests.namespaces import namespace_marks

pytestmark = namespace_marks(("ip", "bridge", "iptables", "ping"))

BRIDGE_DEVICES = ("vx-bridge", "vx-bridge-6")
SQLITE_SHM_LOCKS = (120, 8)  # offset and count of the WAL locks in a sqlite "-shm" file
OUTAGE_PING_SECONDS = 15


# --- helpers ----------------------------------------------------------------------------


def control_store(lab: RunningLab) -> ObjectStore:
    return open_store(lab.state.control_store)


def tunnel_addresses(lab: RunningLab, node: NodePlan) -> list[str]:
    """The node's addresses on its cross-cluster VXLAN devices, from its NodeConfig."""
    store = control_store(lab)
    try:
        config = store.get("NodeConfig", node.cluster_node)
    finally:
        store.close()
    devices = (config.get("spec") or {}).get("devices") or []
    return [d["addr"].split("/")[0] for d in devices if d["name"] in BRIDGE_DEVICES]


def node_of(lab: RunningLab, path: str) -> NodePlan:
    cluster, node = path.split("/")
    return lab.plan.node(cluster, node)


def unanswered_pings(pairs: list[tuple[str, str]], within: float = 20.0) -> list[str]:
    """The (namespace, address) pairs still without a ping reply after ``within`` s."""
    return [
        f"{namespace} -> {address}"
        for namespace, address in pairs
        if not eventually(partial(ping_ok, namespace, address, 2), within=within)
    ]


def valid_condition(lab: RunningLab, kind: str, name: str) -> dict[str, Any] | None:
    store = control_store(lab)
    try:
        document = store.get(kind, name)
    except NotFoundError:
        return None
    finally:
        store.close()
    conditions = (document.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Valid"), None)


def invalid_within(lab: RunningLab, kind: str, name: str, within: float = 30.0) -> dict[str, Any]:
    """The object's Valid condition once it says False (or whatever it says at the bound)."""

    def invalid() -> bool:
        condition = valid_condition(lab, kind, name)
        return condition is not None and condition.get("status") == "False"

    eventually(invalid, within=within)
    return valid_condition(lab, kind, name) or {}


def kosmosctl_get(resource: str, store_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KOSMOSCTL, "get", resource, "--store", store_url],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@contextmanager
def continuous_ping(namespace: str, address: str, seconds: int) -> Iterator[list[str]]:
    """Ping every 0.1 s for ``seconds`` from ``namespace``; yields a list that receives
    ping's whole output when the block ends (and the ping with it)."""
    argv = ["ip", "netns", "exec", namespace, "ping", "-n", "-W", "1", "-i", "0.1"]
    ping = subprocess.Popen(
        [*argv, "-c", str(seconds * 10), address], stdout=subprocess.PIPE, text=True
    )
    output: list[str] = []
    try:
        yield output
    finally:
        text, _ = ping.communicate(timeout=seconds + 30)
        output.append(text)


@contextmanager
def store_unreachable(store_url: str) -> Iterator[None]:
    """Nobody can read or write the sqlite store while the block runs.

    A separate process holds every WAL lock of the store's shared-memory file: each read
    or write of any component then fails (after sqlite's retries, about 10 s) with
    "locking protocol", as requests to an API server that stopped answering time out.
    Nothing in the store changes; the lock goes with the process, stopped by its PID.
    """
    database = "/" + store_url.removeprefix("sqlite:///").split("?")[0]
    offset, count = SQLITE_SHM_LOCKS
    hold = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        f"fcntl.lockf(fd, fcntl.LOCK_EX, {count}, {offset})\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, f"{database}-shm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=10)


def log_size(path: str) -> int:
    return Path(path).stat().st_size


def logged_since(path: str, offset: int, text: str) -> bool:
    with open(path, "rb") as log:
        log.seek(offset)
        return text in log.read().decode(errors="replace")


# --- host network -----------------------------------------------------------------------


def test_host_networks_reach_across_clusters_as_each_mode_routes_them(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="mixed", ip_family="all")
    p2p_host = node_of(lab, "cluster1/node1")
    gateway_host = node_of(lab, lab.gateway_of("cluster2"))
    (behind_gateway,) = [n for n in lab.plan.cluster("cluster2").nodes if n != gateway_host]
    remote_pods = [pod for node in lab.plan.cluster("cluster1").nodes for pod in node.pods]

    host_to_host = [
        *((p2p_host.namespace, ip) for ip in tunnel_addresses(lab, gateway_host)),
        *((gateway_host.namespace, ip) for ip in tunnel_addresses(lab, p2p_host)),
    ]
    # a node behind its gateway has no address on the cross-cluster tunnel: its host
    # traffic to remote pods leaves through the gateway, masqueraded to the gateway's
    masqueraded = [(behind_gateway.namespace, ip) for pod in remote_pods for ip in pod.ips]

    assert len(host_to_host) == 4  # IPv4 and IPv6, both ways
    assert unanswered_pings(host_to_host) == []
    assert unanswered_pings(masqueraded) == []


# --- bad input --------------------------------------------------------------------------

BROKEN_OBJECTS = [
    {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "broken"},
        "spec": {
            "clusterLinkOptions": {
                "enable": True,
                "networkType": "gateway",
                "ipFamily": "ipv4",
                "bridgeCIDRs": {"ip": "198.19.0.0/16", "ip6": "9480::/16"},
                "localCIDRs": {"ip": "198.19.0.0/24", "ip6": "9470::/16"},
                "podCIDRs": ["10.9.0.0/16"],
            }
        },
    },
    {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "ClusterNode",
        "metadata": {"name": "broken-node1"},
        "spec": {
            "clusterName": "broken",
            "nodeName": "node1",
            "interfaceName": "eth0",
            "ip": "192.168.9.11",
            "podCIDRs": ["10.9.1.0/24"],
        },
    },
]

UNPARSEABLE_CLUSTER = {
    "apiVersion": "kosmos.io/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "garbled"},
    "spec": {"clusterLinkOptions": {"enable": True, "networkType": "banana"}},
}


def test_invalid_objects_get_a_clear_condition_and_the_federation_keeps_its_traffic(
    start_lab: LabFactory, tmp_path: Path
) -> None:
    lab = start_lab(mode="p2p", ip_family="ipv4")
    url = lab.state.control_store
    source = lab.pod("cluster1/node1/pod1")
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(yaml.safe_dump_all(BROKEN_OBJECTS))

    with continuous_ping(
        source.namespace, lab.address_of(source.path, "cluster2/node2/pod1"), 8
    ) as ping:
        applied = subprocess.run(
            [*KOSMOSCTL, "apply", "-f", str(manifest), "--store", url],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        store = control_store(lab)
        try:
            store.create(UNPARSEABLE_CLUSTER)  # past kosmosctl's own validation
        finally:
            store.close()
        cluster = invalid_within(lab, "Cluster", "broken")
        node = invalid_within(lab, "ClusterNode", "broken-node1")
        garbled = invalid_within(lab, "Cluster", "garbled")

    assert applied.returncode == 0, applied.stderr
    assert cluster["reason"] == "InvalidFields"
    assert "localCIDRs.ip: overlaps bridgeCIDRs.ip" in cluster["message"]
    assert node["status"] == "False"
    assert "cluster 'broken' cannot be linked" in node["message"]
    assert garbled["status"] == "False"
    assert "networkType" in garbled["message"]
    listed = kosmosctl_get("clusters", url)
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines() if line.strip()}
    valid_column = {name: row[-1] for name, row in rows.items()}
    assert valid_column["broken"] == "No", listed.stdout
    assert valid_column["garbled"] == "No", listed.stdout
    assert valid_column["cluster1"] == valid_column["cluster2"] == "Yes", listed.stdout
    assert " 0% packet loss" in ping[0], ping[0]
    wait_ready(lab.state, lab.plan, lambda _: None, timeout=30)
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []


# --- control plane store unreachable ----------------------------------------------------


def test_agents_keep_the_data_plane_while_the_control_store_is_unreachable_and_resync_after(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="mixed", ip_family="ipv4")
    agents = [p for p in lab.state.processes if p.role == "agent"]
    offsets = {agent.log: log_size(agent.log) for agent in agents}
    source = lab.pod("cluster2/node2/pod1")
    address = lab.address_of(source.path, "cluster1/node1/pod1")

    lab_ops.stop_control_plane(lab.spec.name, lab.state_dir)
    with (
        store_unreachable(lab.state.control_store),
        continuous_ping(source.namespace, address, OUTAGE_PING_SECONDS) as ping,
    ):
        lost_store = eventually(
            lambda: all(logged_since(log, at, "locking protocol") for log, at in offsets.items()),
            within=40,
        )
        assert lost_store, "the agents never noticed that the store was unreachable"
        assert all(is_running(agent) for agent in agents)
        assert unreachable_pairs(cross_cluster_pairs(lab), within=5) == []

    assert " 0% packet loss" in ping[0], ping[0]
    assert all(is_running(agent) for agent in agents)
    lab_ops.start_control_plane(lab.spec.name, lab.state_dir)
    wait_ready(lab.state, lab.plan, lambda _: None, timeout=60)
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []
