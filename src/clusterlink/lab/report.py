"""What a running lab looks like, and how well it connects: for ``status`` and ``matrix``.

``lab_status`` reads the control store and the process table into one plain document
(printed as a table, JSON or YAML by the CLI); ``ping_matrix`` pings every pod of every
other cluster from every pod, through ``ip netns exec``, a few pings at a time.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from clusterlink.api.constants import ROLE_GATEWAY
from clusterlink.lab.addressing import LabPlan, NodePlan, PodPlan, address_from
from clusterlink.lab.processes import is_running
from clusterlink.lab.readiness import applied_condition, is_applied
from clusterlink.lab.state import LabState
from clusterlink.store import NotFoundError, ObjectStore, open_store

PARALLEL_PINGS = 8


def _get(store: ObjectStore, kind: str, name: str) -> dict[str, Any]:
    try:
        return store.get(kind, name)
    except NotFoundError:
        return {}


def _sync_text(config: dict[str, Any]) -> str:
    if not config:
        return "no NodeConfig"
    condition = applied_condition(config)
    if condition is None:
        return "Pending"
    if is_applied(config):
        return "Synced"
    if condition.get("status") == "True":
        return "Syncing"
    return f"Failed: {condition.get('reason', '')}"


def _node_entry(control: ObjectStore, state: LabState, node: NodePlan) -> dict[str, Any]:
    cluster_node = _get(control, "ClusterNode", node.cluster_node)
    roles = (cluster_node.get("spec") or {}).get("roles") or []
    agents = [
        p
        for p in state.processes
        if p.role == "agent" and p.cluster == node.cluster and p.node == node.name
    ]
    return {
        "path": node.path,
        "namespace": node.namespace,
        "ips": list(node.ips),
        "podCIDRs": list(node.pod_cidrs),
        "role": ROLE_GATEWAY if ROLE_GATEWAY in roles else "node",
        "killed": node.path in state.killed_nodes,
        "agent": "running" if agents and all(is_running(a) for a in agents) else "stopped",
        "nodeConfig": _sync_text(_get(control, "NodeConfig", node.cluster_node)),
    }


def _pod_entry(pod: PodPlan) -> dict[str, Any]:
    return {"path": pod.path, "namespace": pod.namespace, "ips": list(pod.ips)}


def lab_status(state: LabState, plan: LabPlan) -> dict[str, Any]:
    """Clusters, nodes, pods and processes of the lab as one JSON-ready document."""
    control = open_store(state.control_store)
    try:
        clusters = []
        for cluster in plan.clusters:
            nodes = [_node_entry(control, state, node) for node in cluster.nodes]
            status = (_get(control, "Cluster", cluster.name).get("status") or {}).get(
                "clusterLinkStatus"
            ) or {}
            clusters.append(
                {
                    "name": cluster.name,
                    "networkType": cluster.network_type,
                    "ipFamily": plan.spec.ip_family,
                    "podCIDRs": status.get("podCIDRs") or [],
                    "serviceCIDRs": status.get("serviceCIDRs") or [],
                    "globalCIDRsMap": dict(cluster.global_cidrs),
                    "gateway": next((n["path"] for n in nodes if n["role"] == ROLE_GATEWAY), ""),
                    "memberStore": state.member_stores[cluster.name],
                    "nodes": nodes,
                    "pods": [_pod_entry(pod) for pod in cluster.pods],
                }
            )
    finally:
        control.close()
    return {
        "name": plan.spec.name,
        "mode": plan.spec.mode,
        "ipFamily": plan.spec.ip_family,
        "stateDir": state.directory,
        "controlStore": state.control_store,
        "standIns": list(state.fallbacks),
        "clusters": clusters,
        "processes": [
            {
                "role": p.role,
                "where": "/".join(x for x in (p.cluster, p.node) if x) or "control plane",
                "namespace": p.namespace,
                "pid": p.pid,
                "running": is_running(p),
                "log": p.log,
            }
            for p in state.processes
        ],
    }


@dataclass(frozen=True, slots=True)
class PingResult:
    source: str  # pod path
    destination: str  # pod path
    address: str
    family: Literal[4, 6]
    ok: bool


def ping_ok(namespace: str, address: str, attempts: int) -> bool:
    """At least one reply to ``attempts`` pings (about one second each at most)."""
    argv = ["ip", "netns", "exec", namespace, "ping", "-c", str(attempts), "-i", "0.2"]
    argv += ["-W", "1", "-q", address]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def matrix_pairs(plan: LabPlan) -> list[tuple[PodPlan, PodPlan, str, Literal[4, 6]]]:
    """(source, destination, address, family) for every reachable cross-cluster pod pair."""
    pairs: list[tuple[PodPlan, PodPlan, str, Literal[4, 6]]] = []
    families: tuple[Literal[4, 6], ...] = (4, 6)
    for source, destination, cluster in plan.pod_pairs():
        for family in families:
            address = address_from(plan.cluster(source.cluster), cluster, destination, family)
            if address is not None:
                pairs.append((source, destination, address, family))
    return pairs


def ping_matrix(plan: LabPlan, attempts: int = 3) -> list[PingResult]:
    pairs = matrix_pairs(plan)
    with ThreadPoolExecutor(PARALLEL_PINGS) as pool:
        outcomes = list(pool.map(lambda pair: ping_ok(pair[0].namespace, pair[2], attempts), pairs))
    return [
        PingResult(source.path, destination.path, address, family, ok)
        for (source, destination, address, family), ok in zip(pairs, outcomes, strict=True)
    ]


def next_commands(state: LabState, plan: LabPlan) -> list[str]:
    """Commands to paste after ``up``, using the lab's real names and addresses."""
    name = "" if plan.spec.name == "demo" else f" --name {plan.spec.name}"
    commands: list[str] = []
    first = plan.clusters[0].pods[0]
    for source, _, address, _ in matrix_pairs(plan):
        if source == first:
            ping = "ping6" if ":" in address else "ping"
            commands.append(f"kosmosctl lab exec{name} {source.path} -- {ping} -c 3 {address}")
            if len(commands) == 2:
                break
    node = plan.clusters[0].nodes[0]
    commands += [
        f"kosmosctl dr --lab {plan.spec.name} --host-network",
        f"kosmosctl lab matrix{name}",
        f"kosmosctl lab status{name}",
        f"kosmosctl get clusters --store {state.control_store}",
        f"kosmosctl get cn --store {state.control_store}",
        f"kosmosctl get nc --store {state.control_store}",
        f"kosmosctl lab exec{name} {node.path} -- ip route show table 200",
        f"clusterlink agent show --netns {node.namespace}",
        f"kosmosctl lab kill-node{name} {node.path}",
        f"kosmosctl lab down{name}",
    ]
    return commands
