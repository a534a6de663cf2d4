"""The floaters ``kosmosctl dr`` deploys in a member cluster for one check, as manifests.

Upstream's ``kosmosctl check`` deploys one privileged DaemonSet whose ServiceAccount may do
anything anywhere, and labels the nodes it must avoid. Here:

- RBAC is a Role in the floaters' namespace granting exactly the ConfigMap calls the floater
  makes (:data:`clusterlink.deploy.access.FLOATER`, checked against the code by
  ``tests/deploy/test_floater_manifests.py``);
- two DaemonSets can run side by side, ``clusterlink-floater`` in pod network and
  ``clusterlink-floater-host`` in host network (``dr --host-network`` checks both), told
  apart by the label ``clusterlink.io/floater-network``;
- node affinity keeps them off nodes labelled ``kosmos.io/exclude=true`` and off Kosmos
  virtual nodes (``kubernetes.io/role=agent``) without changing any node;
- neither runs privileged. ICMP is sent from Python sockets (:mod:`clusterlink.floater.icmp`):
  a datagram ICMP socket needs only the process's group in ``net.ipv4.ping_group_range``,
  which the pod-network floater sets for its own pod (a namespaced sysctl Kubernetes counts
  as safe), so it runs as non-root with no capability at all. A host-network pod cannot set
  network sysctls and the node's range usually excludes everyone, so the host-network floater
  falls back to raw ICMP sockets: it runs as root with every capability dropped but
  ``NET_RAW``. Route lookups (netlink ``RTM_GETROUTE``) need no privilege.

The floater registers under its pod's name, in its pod's namespace, with the addresses the
downward API gives (``status.podIPs``, ``status.hostIPs``); it serves probes, ``/healthz``
and ``/readyz`` on ``PORT`` (8889, as upstream's), so no second port is opened on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from clusterlink.deploy.access import FLOATER
from clusterlink.deploy.manifests import namespace, service_account
from clusterlink.deploy.rbac import bindings, roles
from clusterlink.deploy.settings import DeploySettings
from clusterlink.deploy.workloads import (
    EXCLUDE_LABEL,
    IN_CLUSTER_STORE,
    NODE_NAME_ENV,
    ContainerPlan,
    Resources,
    cluster_name_env,
    labels_of,
    pod_template,
)
from clusterlink.floater.messages import DEFAULT_PORT, Network

Manifest = dict[str, Any]

COMPONENT: Final = "floater"
SERVICE_ACCOUNT: Final = "clusterlink-floater"
NETWORK_LABEL: Final = "clusterlink.io/floater-network"
VIRTUAL_NODE_LABEL: Final = "kubernetes.io/role"
VIRTUAL_NODE_ROLE: Final = "agent"
PING_GROUP_RANGE: Final = {"name": "net.ipv4.ping_group_range", "value": "0 2147483647"}

ADDRESS_FIELD: Final[dict[Network, str]] = {"pod": "status.podIPs", "host": "status.hostIPs"}
"""Comma-separated, every family: what ``clusterlink floater`` reads from FLOATER_ADDRESSES."""

TOLERATIONS: Final = (
    {"operator": "Exists", "effect": "NoSchedule"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
    {"operator": "Exists", "effect": "NoExecute"},
)
"""Upstream's: every node, tainted or not, gets a floater."""


@dataclass(frozen=True, slots=True)
class FloaterOptions:
    """One member's floaters: its Cluster's name (floaters report it; NodeConfigs are
    named after it), the port they serve, and which networks get a DaemonSet."""

    cluster: str
    port: int = DEFAULT_PORT
    networks: tuple[Network, ...] = ("pod",)
    enable_analysis: bool = False


def daemon_set_name(network: Network) -> str:
    return SERVICE_ACCOUNT if network == "pod" else f"{SERVICE_ACCOUNT}-host"


def pod_labels(network: Network) -> dict[str, str]:
    """What the DaemonSet of ``network`` selects its pods by."""
    return {"app": SERVICE_ACCOUNT, NETWORK_LABEL: network}


def _field_env(name: str, field_path: str) -> Manifest:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def floater_env(network: Network, options: FloaterOptions) -> tuple[Manifest, ...]:
    return (
        {"name": "PORT", "value": str(options.port)},
        {"name": "ENABLE_ANALYSIS", "value": "true" if options.enable_analysis else "false"},
        _field_env("POD_NAME", "metadata.name"),
        NODE_NAME_ENV,
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        {"name": "FLOATER_NETWORK", "value": network},
        cluster_name_env(options.cluster),
        _field_env("FLOATER_ADDRESSES", ADDRESS_FIELD[network]),
    )


def floater_plan(network: Network, options: FloaterOptions) -> ContainerPlan:
    return ContainerPlan(
        component=COMPONENT,
        subcommand=(COMPONENT,),
        args=("--store", IN_CLUSTER_STORE),
        resources=Resources("10m", "64Mi", "256Mi"),
        probe_port=options.port,
        env=floater_env(network, options),
        mounts_control_kubeconfig=False,
        capabilities=("NET_RAW",) if network == "host" else (),
        probes_on_serving_port=True,
    )


def floater_affinity() -> Manifest:
    """Every node but those labelled ``kosmos.io/exclude=true`` and Kosmos virtual nodes."""
    expressions = [
        {"key": EXCLUDE_LABEL, "operator": "NotIn", "values": ["true"]},
        {"key": VIRTUAL_NODE_LABEL, "operator": "NotIn", "values": [VIRTUAL_NODE_ROLE]},
    ]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }
    }


def floater_daemon_set(
    network: Network, options: FloaterOptions, settings: DeploySettings
) -> Manifest:
    template = pod_template(
        floater_plan(network, options),
        settings,
        service_account=SERVICE_ACCOUNT,
        affinity=floater_affinity(),
        host_network=network == "host",
        tolerations=TOLERATIONS,
    )
    template["metadata"]["labels"].update(pod_labels(network))
    if network == "pod":
        template["spec"]["securityContext"]["sysctls"] = [dict(PING_GROUP_RANGE)]
    labels = {**labels_of(COMPONENT), NETWORK_LABEL: network}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": daemon_set_name(network),
            "namespace": settings.namespace,
            "labels": labels,
        },
        "spec": {
            "selector": {"matchLabels": pod_labels(network)},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": template,
        },
    }


def floater_manifests(
    options: FloaterOptions, settings: DeploySettings | None = None
) -> list[Manifest]:
    """In creation order: Namespace, ServiceAccount, Role, RoleBinding, DaemonSet(s)."""
    settings = settings or DeploySettings()
    labels = labels_of(COMPONENT)
    granted = roles(SERVICE_ACCOUNT, FLOATER.member, settings.namespace, labels)
    manifests: list[Manifest] = [
        namespace(settings),
        service_account(SERVICE_ACCOUNT, settings, COMPONENT),
        *granted,
        *bindings(granted, SERVICE_ACCOUNT, (settings.namespace, SERVICE_ACCOUNT), labels),
    ]
    manifests += [floater_daemon_set(n, options, settings) for n in options.networks]
    return manifests
