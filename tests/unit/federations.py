"""Builders of test federations: the upstream worked examples and small variations."""

from __future__ import annotations

from typing import Any

from clusterlink.api.constants import DEVICE_PORT, DEVICE_VNI
from clusterlink.api.models import Cluster, ClusterNode, Device, NodeConfigSpec

UPSTREAM_LOCAL = {"ip": "210.0.0.0/8", "ip6": "9480::/16"}
UPSTREAM_BRIDGE = {"ip": "220.0.0.0/8", "ip6": "9470::/16"}

# name -> (ip, ip6, gateway, pod CIDR), the nodes of reference §3.9
EXAMPLE_NODES = {
    "cluster-a-node1": ("192.168.1.11", "fd00:1::11", True, "10.233.10.0/26"),
    "cluster-a-node2": ("192.168.1.12", "fd00:1::12", False, "10.233.20.0/26"),
    "cluster-b-node1": ("192.168.2.21", "fd00:2::21", True, "10.234.10.0/26"),
    "cluster-b-node2": ("192.168.2.22", "fd00:2::22", False, "10.234.20.0/26"),
}
_MAC_SUFFIX = {"vx-bridge": "b4", "vx-local": "14", "vx-bridge-6": "b6", "vx-local-6": "16"}


def cluster(
    name: str,
    network_type: str,
    pod_cidrs: list[str],
    service_cidrs: list[str],
    *,
    ip_family: str = "ipv4",
    global_map: dict[str, str] | None = None,
    local: dict[str, str] | None = None,
    bridge: dict[str, str] | None = None,
    pod_cidrs_override: list[str] | None = None,
) -> Cluster:
    options: dict[str, Any] = {
        "networkType": network_type,
        "ipFamily": ip_family,
        "localCIDRs": local or UPSTREAM_LOCAL,
        "bridgeCIDRs": bridge or UPSTREAM_BRIDGE,
    }
    if global_map:
        options["globalCIDRsMap"] = global_map
    if pod_cidrs_override is not None:
        options["podCIDRs"] = pod_cidrs_override
    return Cluster.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"clusterLinkOptions": options},
            "status": {"clusterLinkStatus": {"podCIDRs": pod_cidrs, "serviceCIDRs": service_cidrs}},
        }
    )


def cluster_node(
    name: str,
    cluster_name: str,
    ip: str = "",
    *,
    ip6: str = "",
    gateway: bool = False,
    pod_cidrs: list[str] | None = None,
    interface: str = "eth0",
) -> ClusterNode:
    return ClusterNode.model_validate(
        {
            "metadata": {"name": name, "labels": {"kosmos.io/cluster": cluster_name}},
            "spec": {
                "clusterName": cluster_name,
                "nodeName": name.removeprefix(f"{cluster_name}-"),
                "ip": ip,
                "ip6": ip6,
                "roles": ["gateway"] if gateway else [],
                "interfaceName": interface,
                "podCIDRs": pod_cidrs or [],
            },
        }
    )


def example_clusters(
    type_a: str,
    type_b: str,
    *,
    ip_family: str = "ipv4",
    b_map: dict[str, str] | None = None,
    b_pods: str = "10.234.0.0/16",
) -> list[Cluster]:
    extra_a = ["fd10:233::/64"] if ip_family == "all" else []
    extra_b = ["fd10:234::/64"] if ip_family == "all" else []
    return [
        cluster(
            "cluster-a", type_a, ["10.233.0.0/16", *extra_a], ["10.96.0.0/16"], ip_family=ip_family
        ),
        cluster(
            "cluster-b",
            type_b,
            [b_pods, *extra_b],
            ["10.97.0.0/16"],
            ip_family=ip_family,
            global_map=b_map,
        ),
    ]


def example_nodes(*, with_ip6: bool = False) -> list[ClusterNode]:
    return [
        cluster_node(
            name,
            name.rsplit("-", 1)[0],
            ip,
            ip6=ip6 if with_ip6 else "",
            gateway=gw,
            pod_cidrs=[pods],
        )
        for name, (ip, ip6, gw, pods) in EXAMPLE_NODES.items()
    ]


def pinned_macs() -> dict[str, NodeConfigSpec]:
    """Previous NodeConfigs that pin every device's MAC as the upstream examples do."""
    previous = {}
    for name in EXAMPLE_NODES:
        node_id = name[len("cluster-")] + name[-1]  # a1, a2, b1, b2
        previous[name] = NodeConfigSpec(
            devices=tuple(
                Device(
                    name=dev,
                    addr="",
                    mac=f"aa:00:00:00:{node_id}:{suffix}",
                    bind_dev="eth0",
                    id=DEVICE_VNI[dev],
                    port=DEVICE_PORT[dev],
                )
                for dev, suffix in _MAC_SUFFIX.items()
            )
        )
    return previous
