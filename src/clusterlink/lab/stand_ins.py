"""Stand-ins for the member-cluster components, used only when this installation lacks them.

The lab runs ``clusterlink controller-manager`` (Node -> ClusterNode, CIDRs -> Cluster
status) and ``clusterlink elector`` (gateway role) when those commands exist. Until they
do, ``up`` writes what they would write, once, and ``kill-node`` moves the gateway role
as the elector would; the lab's state and ``status`` say when a stand-in is in use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from clusterlink.api.constants import API_VERSION, LABEL_CLUSTER, ROLE_GATEWAY
from clusterlink.lab.addressing import ClusterPlan
from clusterlink.lab.naming import cluster_node_name
from clusterlink.store import AlreadyExistsError, NotFoundError, ObjectStore

CONTROLLER_MANAGER = "controller-manager"
ELECTOR = "elector"


def write_cluster_nodes(control: ObjectStore, cluster: ClusterPlan) -> None:
    """What the controller-manager writes for each Node: its ClusterNode."""
    for node in cluster.nodes:
        document = {
            "apiVersion": API_VERSION,
            "kind": "ClusterNode",
            "metadata": {"name": node.cluster_node, "labels": {LABEL_CLUSTER: cluster.name}},
            "spec": {
                "clusterName": cluster.name,
                "nodeName": node.name,
                "podCIDRs": list(node.pod_cidrs),
                "ip": node.ip4 or "",
                "ip6": node.ip6 or "",
                "interfaceName": "eth0",
                "roles": [],
            },
        }
        with contextlib.suppress(AlreadyExistsError):
            control.create(document)


def write_cluster_status(control: ObjectStore, cluster: ClusterPlan) -> None:
    """What the controller-manager reports on the Cluster: its pod and service CIDRs."""
    status = {
        "clusterLinkStatus": {
            "podCIDRs": list(cluster.pod_cidrs),
            "serviceCIDRs": list(cluster.service_cidrs),
        }
    }
    control.patch_status("Cluster", cluster.name, {"status": status})


def assign_gateway(control: ObjectStore, cluster: ClusterPlan, alive: Collection[str]) -> None:
    """What the electors settle on: the current gateway while it lives, else the first live
    node of the cluster (by name order)."""
    roles_now: dict[str, list[str]] = {}
    for node in cluster.nodes:
        try:
            document = control.get("ClusterNode", node.cluster_node)
        except NotFoundError:
            continue
        roles_now[node.name] = list((document.get("spec") or {}).get("roles") or [])
    current = [name for name, roles in roles_now.items() if ROLE_GATEWAY in roles and name in alive]
    live = [node.name for node in cluster.nodes if node.name in alive and node.name in roles_now]
    leader = current[0] if current else (live[0] if live else None)
    for name, roles in roles_now.items():
        wanted = [ROLE_GATEWAY] if name == leader else []
        if roles != wanted:
            control.patch(
                "ClusterNode",
                cluster_node_name(cluster.name, name),
                {"spec": {"roles": wanted}},
            )
