"""The complete manifests of a ClusterLink installation, in the order they can be applied.

Three sets, as the components split across clusters:

- :func:`control_plane_manifests` — once, in the control-plane cluster: namespace, CRDs and
  the network-manager;
- :func:`member_identity_manifests` — in the control plane, once per member: the identities
  (ServiceAccount, ClusterRole limited to the member's own Cluster, binding, token Secret) its
  agent, elector and controller-manager use there;
- :func:`member_manifests` — in each member: Secret ``clusterlink-agent-proxy`` holding one
  control-plane kubeconfig per component (each pod mounts only its own), member RBAC, the
  agent DaemonSet, the elector and controller-manager Deployments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from clusterlink.api.crds import build_crds
from clusterlink.deploy.access import (
    AGENT,
    CONTROLLER_MANAGER,
    ELECTOR,
    MEMBER_COMPONENTS,
    NETWORK_MANAGER,
    NETWORK_MANAGER_LEASE,
    ComponentAccess,
)
from clusterlink.deploy.rbac import bindings, roles
from clusterlink.deploy.settings import DeploySettings
from clusterlink.deploy.workloads import (
    AGENT_PROBE_PORT,
    AGENT_PROXY_SECRET,
    CONTROL_STORE,
    IN_CLUSTER_STORE,
    NODE_NAME_ENV,
    ContainerPlan,
    Resources,
    cluster_name_env,
    daemon_set,
    deployment,
    labels_of,
    not_excluded_affinity,
    pod_template,
    spread_affinity,
)

Manifest = dict[str, Any]


def namespace(settings: DeploySettings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": settings.namespace, "labels": {"kosmos.io/system": "true"}},
    }


def service_account(name: str, settings: DeploySettings, component: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": labels_of(component)},
    }


def member_identity_name(cluster: str, access: ComponentAccess) -> str:
    return f"clusterlink-{cluster}-{access.component}"


# --- control plane ---------------------------------------------------------------------------


def network_manager_plan(settings: DeploySettings) -> ContainerPlan:
    return ContainerPlan(
        component="network-manager",
        subcommand=("network-manager",),
        args=(
            "--store",
            IN_CLUSTER_STORE,
            "--leader-elect",
            "--lease-name",
            NETWORK_MANAGER_LEASE,
            "--lease-namespace",
            settings.namespace,
        ),
        resources=Resources("100m", "128Mi", "512Mi"),
        leader_elected=True,
        mounts_control_kubeconfig=False,
    )


def control_plane_manifests(settings: DeploySettings | None = None) -> list[Manifest]:
    settings = settings or DeploySettings()
    plan = network_manager_plan(settings)
    name = "clusterlink-network-manager"
    labels = labels_of("network-manager")
    granted = roles(name, NETWORK_MANAGER.control, settings.namespace, labels)
    manifests: list[Manifest] = [namespace(settings), *build_crds()]
    manifests += [service_account(name, settings, "network-manager"), *granted]
    manifests += bindings(granted, name, (settings.namespace, name), labels)
    template = pod_template(
        plan,
        settings,
        service_account=name,
        affinity=spread_affinity("network-manager", required=False),
    )
    manifests.append(deployment(plan, settings, replicas=1, template=template))
    return manifests


def member_identity_manifests(
    cluster: str, settings: DeploySettings | None = None
) -> list[Manifest]:
    """What the member ``cluster``'s components are in the control plane; ``kosmosctl join``
    builds their kubeconfigs from the token Secrets."""
    settings = settings or DeploySettings()
    manifests: list[Manifest] = []
    for access in MEMBER_COMPONENTS:
        name = member_identity_name(cluster, access)
        labels = {**labels_of(access.component), "kosmos.io/cluster": cluster}
        granted = roles(name, access.control, settings.namespace, labels, cluster=cluster)
        manifests.append(service_account(name, settings, access.component))
        manifests[-1]["metadata"]["labels"] = labels
        manifests += [*granted, *bindings(granted, name, (settings.namespace, name), labels)]
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/service-account-token",
                "metadata": {
                    "name": f"{name}-token",
                    "namespace": settings.namespace,
                    "labels": labels,
                    "annotations": {"kubernetes.io/service-account.name": name},
                },
            }
        )
    return manifests


# --- member ----------------------------------------------------------------------------------


def agent_plan(cluster: str) -> ContainerPlan:
    return ContainerPlan(
        component="agent",
        subcommand=("agent", "run"),
        args=("--store", CONTROL_STORE),
        resources=Resources("100m", "128Mi", "256Mi"),
        probe_port=AGENT_PROBE_PORT,
        env=(cluster_name_env(cluster), NODE_NAME_ENV),
        privileged=True,
        extra_mounts=(
            {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
            {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
        ),
    )


def elector_plan(cluster: str, settings: DeploySettings) -> ContainerPlan:
    return ContainerPlan(
        component="elector",
        subcommand=("elector",),
        args=(
            "--store",
            CONTROL_STORE,
            "--member-store",
            IN_CLUSTER_STORE,
            "--lease-namespace",
            settings.namespace,
        ),
        resources=Resources("50m", "96Mi", "256Mi"),
        leader_elected=True,
        env=(cluster_name_env(cluster), NODE_NAME_ENV),
    )


def controller_manager_plan(cluster: str, settings: DeploySettings) -> ContainerPlan:
    return ContainerPlan(
        component="controller-manager",
        subcommand=("controller-manager",),
        args=(
            "--store",
            CONTROL_STORE,
            "--member-store",
            IN_CLUSTER_STORE,
            "--leader-elect",
            "--lease-namespace",
            settings.namespace,
        ),
        resources=Resources("100m", "128Mi", "512Mi"),
        leader_elected=True,
        env=(cluster_name_env(cluster),),
    )


_AGENT_TOLERATIONS = (
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
)


def agent_proxy_secret(settings: DeploySettings, kubeconfigs: Mapping[str, str]) -> Manifest:
    """One control-plane kubeconfig per member component, keyed by component name."""
    expected = {access.component for access in MEMBER_COMPONENTS}
    if set(kubeconfigs) != expected:
        raise ValueError(
            f"{AGENT_PROXY_SECRET} needs a kubeconfig for exactly {', '.join(sorted(expected))}; "
            f"got {', '.join(sorted(kubeconfigs)) or 'none'}"
        )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": AGENT_PROXY_SECRET,
            "namespace": settings.namespace,
            "labels": {"app.kubernetes.io/part-of": "kosmos-clusterlink"},
        },
        "stringData": {component: kubeconfigs[component] for component in sorted(kubeconfigs)},
    }


def member_manifests(
    cluster: str,
    kubeconfigs: Mapping[str, str],
    settings: DeploySettings | None = None,
) -> list[Manifest]:
    """Everything ClusterLink runs in member ``cluster``; ``kubeconfigs`` maps each member
    component to the kubeconfig of its control-plane identity."""
    settings = settings or DeploySettings()
    manifests: list[Manifest] = [namespace(settings), agent_proxy_secret(settings, kubeconfigs)]
    for access in MEMBER_COMPONENTS:
        name = f"clusterlink-{access.component}"
        labels = labels_of(access.component)
        granted = roles(name, access.member, settings.namespace, labels)
        manifests += [service_account(name, settings, access.component), *granted]
        manifests += bindings(granted, name, (settings.namespace, name), labels)
    manifests += _member_workloads(cluster, settings)
    return manifests


def _member_workloads(cluster: str, settings: DeploySettings) -> Sequence[Manifest]:
    agent = agent_plan(cluster)
    agent_template = pod_template(
        agent,
        settings,
        service_account=f"clusterlink-{AGENT.component}",
        affinity=not_excluded_affinity(),
        volumes=(
            {
                "name": "xtables-lock",
                "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"},
            },
            {"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": "Directory"}},
        ),
        host_network=True,
        tolerations=_AGENT_TOLERATIONS,
        automount_token=False,
    )
    elector = elector_plan(cluster, settings)
    elector_template = pod_template(
        elector,
        settings,
        service_account=f"clusterlink-{ELECTOR.component}",
        affinity={**not_excluded_affinity(), **spread_affinity("elector", required=True)},
    )
    manager = controller_manager_plan(cluster, settings)
    manager_template = pod_template(
        manager,
        settings,
        service_account=f"clusterlink-{CONTROLLER_MANAGER.component}",
        affinity=spread_affinity("controller-manager", required=False),
    )
    return [
        daemon_set(agent, settings, template=agent_template),
        deployment(elector, settings, replicas=2, template=elector_template),
        deployment(manager, settings, replicas=1, template=manager_template),
    ]


def to_yaml(manifests: Sequence[Manifest]) -> str:
    """One YAML stream, in order, as ``kubectl apply -f -`` reads it."""
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)
