"""The Kubernetes objects of a lab: what a kubelet would report and what a user applies.

Each virtual cluster's store gets its ``Node`` objects (``spec.podCIDRs``, ``InternalIP``
addresses of both families) and its ``Pod`` objects (``status.podIP(s)``), as kubelets
write them; the control store gets one ``Cluster`` per virtual cluster (network type,
IP family, ``defaultNICName: eth0``, pod/service CIDR overrides, ``globalCIDRsMap``).
``up`` writes the Clusters as a user does, with ``kosmosctl join cluster`` on the
stores (:func:`join_options` are its flags), so ``kosmosctl unjoin cluster`` works on a
lab; :func:`cluster_document` is the same Cluster without what the join adds (owner
labels, the member's secret), for tests that need one Cluster alone.
The builders are pure; the writers create what is missing and leave the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clusterlink.api.constants import API_VERSION
from clusterlink.deploy.joining import JoinOptions
from clusterlink.lab.addressing import ClusterPlan, IPFamilyChoice, NodePlan, PodPlan
from clusterlink.store import AlreadyExistsError, ObjectStore

POD_NAMESPACE = "default"
LAB_LABEL = "clusterlink.io/lab"


def node_document(node: NodePlan, lab: str) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": ip} for ip in node.ips]
    addresses.append({"type": "Hostname", "address": node.name})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": {"kubernetes.io/hostname": node.name, LAB_LABEL: lab},
        },
        "spec": {"podCIDR": node.pod_cidrs[0], "podCIDRs": list(node.pod_cidrs)},
        "status": {
            "addresses": addresses,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod_object_name(pod: PodPlan) -> str:
    """Pod names are unique per Kubernetes namespace, so the node is part of the name."""
    return f"{pod.node}-{pod.name}"


def pod_document(pod: PodPlan, lab: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_object_name(pod),
            "namespace": POD_NAMESPACE,
            "labels": {"app": "lab-pod", LAB_LABEL: lab},
        },
        "spec": {"nodeName": pod.node, "containers": [{"name": "pause", "image": "pause"}]},
        "status": {
            "phase": "Running",
            "podIP": pod.ips[0],
            "podIPs": [{"ip": ip} for ip in pod.ips],
        },
    }


def cluster_document(cluster: ClusterPlan, ip_family: IPFamilyChoice, lab: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "enable": True,
        "cni": "calico",
        "networkType": cluster.network_type,
        "ipFamily": ip_family,
        "defaultNICName": "eth0",
        "podCIDRs": list(cluster.pod_cidrs),
        "serviceCIDRs": list(cluster.service_cidrs),
    }
    if cluster.global_cidrs:
        options["globalCIDRsMap"] = dict(cluster.global_cidrs)
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": cluster.name, "labels": {LAB_LABEL: lab}},
        "spec": {"clusterLinkOptions": options},
    }


def join_options(cluster: ClusterPlan, ip_family: IPFamilyChoice) -> JoinOptions:
    """The ``kosmosctl join cluster`` flags whose Cluster says what :func:`cluster_document`
    says."""
    return JoinOptions(
        name=cluster.name,
        cni="calico",
        default_nic="eth0",
        network_type=cluster.network_type,
        ip_family=ip_family,
        pod_cidrs=cluster.pod_cidrs,
        service_cidrs=cluster.service_cidrs,
        global_cidrs_map=dict(cluster.global_cidrs),
    )


def _create_with_status(store: ObjectStore, document: Mapping[str, Any]) -> None:
    try:
        created = store.create(document)
    except AlreadyExistsError:
        return
    if "status" in document and created.get("status") != document["status"]:
        store.update_status({**created, "status": document["status"]})


def write_member_objects(store: ObjectStore, cluster: ClusterPlan, lab: str) -> None:
    """The Nodes and Pods of one virtual cluster, into that cluster's store."""
    for node in cluster.nodes:
        _create_with_status(store, node_document(node, lab))
        for pod in node.pods:
            _create_with_status(store, pod_document(pod, lab))


def write_cluster(
    store: ObjectStore, cluster: ClusterPlan, ip_family: IPFamilyChoice, lab: str
) -> None:
    """The Cluster object of one virtual cluster, into the control store."""
    _create_with_status(store, cluster_document(cluster, ip_family, lab))
