"""When a lab is ready: every node's data plane applied the configuration it should have.

Ready means, read from the control store: each cluster reports its pod CIDRs; each node's
ClusterNode carries the underlay addresses of the lab's families; each gateway-mode
cluster has one gateway; and each node's NodeConfig has routes (with two clusters or
more) and an ``Applied`` condition that is True for its current generation (written by
the agent). What is still missing is listed, so a timeout says what never happened.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from clusterlink.api.constants import ROLE_GATEWAY
from clusterlink.lab.addressing import ClusterPlan, LabPlan, NodePlan
from clusterlink.store import NotFoundError, ObjectStore


def applied_condition(document: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (document.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Applied":
            return dict(condition)
    return None


def is_applied(document: dict[str, Any]) -> bool:
    """The agent applied this generation of the NodeConfig without failures."""
    condition = applied_condition(document)
    generation = document["metadata"].get("generation")
    observed = (document.get("status") or {}).get("observedGeneration")
    return condition is not None and condition.get("status") == "True" and observed == generation


def _get(store: ObjectStore, kind: str, name: str) -> dict[str, Any] | None:
    try:
        return store.get(kind, name)
    except NotFoundError:
        return None


def _cluster_pending(store: ObjectStore, cluster: ClusterPlan, live: Collection[str]) -> list[str]:
    pending: list[str] = []
    document = _get(store, "Cluster", cluster.name)
    status = (document or {}).get("status") or {}
    if not (status.get("clusterLinkStatus") or {}).get("podCIDRs"):
        pending.append(f"Cluster {cluster.name}: pod CIDRs not reported yet")
    if cluster.network_type == "gateway":
        gateways = [
            node.name
            for node in cluster.nodes
            if ROLE_GATEWAY
            in (
                ((_get(store, "ClusterNode", node.cluster_node) or {}).get("spec") or {}).get(
                    "roles"
                )
                or []
            )
            and node.path in live
        ]
        if len(gateways) != 1:
            pending.append(f"Cluster {cluster.name}: no live gateway elected yet")
    return pending


def _node_pending(store: ObjectStore, node: NodePlan, federated: bool) -> list[str]:
    cluster_node = _get(store, "ClusterNode", node.cluster_node)
    if cluster_node is None:
        return [f"ClusterNode {node.cluster_node}: not created yet"]
    spec = cluster_node.get("spec") or {}
    if (node.ip4 and spec.get("ip") != node.ip4) or (node.ip6 and spec.get("ip6") != node.ip6):
        return [f"ClusterNode {node.cluster_node}: underlay addresses not reported yet"]
    config = _get(store, "NodeConfig", node.cluster_node)
    if config is None:
        return [f"NodeConfig {node.cluster_node}: not computed yet"]
    if federated and not (config.get("spec") or {}).get("routes"):
        return [f"NodeConfig {node.cluster_node}: has no routes yet"]
    if not is_applied(config):
        return [f"NodeConfig {node.cluster_node}: generation not applied by the agent yet"]
    return []


def pending_conditions(store: ObjectStore, plan: LabPlan, live: Collection[str]) -> list[str]:
    """What still keeps the lab from being ready; empty when it is. ``live``: node paths."""
    federated = len(plan.clusters) > 1
    pending: list[str] = []
    for cluster in plan.clusters:
        pending += _cluster_pending(store, cluster, live)
        for node in cluster.nodes:
            if node.path in live:
                pending += _node_pending(store, node, federated)
    return pending


def describe_wait(pending: list[str], limit: int = 3) -> str:
    more = f" (+{len(pending) - limit} more)" if len(pending) > limit else ""
    return "; ".join(pending[:limit]) + more
