"""The Deployments and the DaemonSet that run the components, and what their pods share.

Every container runs ``clusterlink <component> ... --store kube://...``, the same command
the lab runs against its sqlite stores. Probes use the component's ``--probe-port``:
liveness is ``/healthz``; readiness is ``/readyz`` except for leader-elected components,
whose standby replicas are healthy but never "ready" (they have not started), which would
stall every rolling update, so they report readiness on ``/healthz``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from clusterlink.deploy.settings import DeploySettings

Manifest = dict[str, Any]

PROBE_PORT: Final = 8080
AGENT_PROBE_PORT: Final = 10380
"""The agent shares the node's network namespace, so its port is a host port."""

CONTROL_KUBECONFIG_DIR: Final = "/etc/clusterlink"
CONTROL_KUBECONFIG: Final = f"{CONTROL_KUBECONFIG_DIR}/kubeconfig"
CONTROL_STORE: Final = f"kube://{CONTROL_KUBECONFIG}"
IN_CLUSTER_STORE: Final = "kube://in-cluster"
AGENT_PROXY_SECRET: Final = "clusterlink-agent-proxy"
EXCLUDE_LABEL: Final = "kosmos.io/exclude"

NON_ROOT_UID: Final = 65532


def labels_of(component: str) -> dict[str, str]:
    return {
        "app": f"clusterlink-{component}",
        "app.kubernetes.io/name": f"clusterlink-{component}",
        "app.kubernetes.io/part-of": "kosmos-clusterlink",
    }


@dataclass(frozen=True, slots=True)
class Resources:
    cpu_request: str
    memory_request: str
    memory_limit: str

    def spec(self) -> Manifest:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"memory": self.memory_limit},
        }


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    """One component's container: ``args`` follow ``clusterlink <component>``."""

    component: str
    subcommand: tuple[str, ...]
    args: tuple[str, ...]
    resources: Resources
    probe_port: int = PROBE_PORT
    leader_elected: bool = False
    env: tuple[Manifest, ...] = ()
    mounts_control_kubeconfig: bool = True
    privileged: bool = False
    extra_mounts: tuple[Manifest, ...] = field(default=())
    capabilities: tuple[str, ...] = ()
    """Run as root with only these capabilities (not privileged); () runs as non-root."""
    probes_on_serving_port: bool = False
    """The component answers ``/healthz`` and ``/readyz`` on ``probe_port``, the port it
    serves anyway (the floater's ``PORT``); its separate probe server is turned off."""


def cluster_name_env(cluster: str) -> Manifest:
    return {"name": "CLUSTER_NAME", "value": cluster}


NODE_NAME_ENV: Final[Manifest] = {
    "name": "NODE_NAME",
    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
}


def _probe(path: str, port: int, *, initial_delay: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _security_context(plan: ContainerPlan) -> Manifest:
    if plan.privileged:
        return {"privileged": True, "runAsUser": 0}
    if plan.capabilities:
        return {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": False,
            "runAsUser": 0,
            "capabilities": {"drop": ["ALL"], "add": list(plan.capabilities)},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_UID,
        "runAsGroup": NON_ROOT_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container(plan: ContainerPlan, settings: DeploySettings) -> Manifest:
    command = [
        "clusterlink",
        *plan.subcommand,
        *plan.args,
        "--probe-port",
        "-1" if plan.probes_on_serving_port else str(plan.probe_port),
        "--log-format",
        "json",
    ]
    readiness_path = "/healthz" if plan.leader_elected else "/readyz"
    mounts = list(plan.extra_mounts)
    if plan.mounts_control_kubeconfig:
        mounts.insert(
            0, {"name": "control-plane", "mountPath": CONTROL_KUBECONFIG_DIR, "readOnly": True}
        )
    spec: Manifest = {
        "name": plan.component,
        "image": settings.image(plan.component),
        "imagePullPolicy": settings.image_pull_policy,
        "command": command,
        "env": list(plan.env),
        "ports": [{"name": "probes", "containerPort": plan.probe_port, "protocol": "TCP"}],
        "livenessProbe": _probe("/healthz", plan.probe_port, initial_delay=10, failures=6),
        "readinessProbe": _probe(readiness_path, plan.probe_port, initial_delay=3, failures=3),
        "resources": plan.resources.spec(),
        "securityContext": _security_context(plan),
    }
    if mounts:
        spec["volumeMounts"] = mounts
    return spec


def control_kubeconfig_volume(component: str) -> Manifest:
    """Only this component's kubeconfig from the Secret, as ``kubeconfig``."""
    return {
        "name": "control-plane",
        "secret": {
            "secretName": AGENT_PROXY_SECRET,
            "items": [{"key": component, "path": "kubeconfig"}],
            "defaultMode": 0o440,
        },
    }


def not_excluded_affinity() -> Manifest:
    """Schedule only on nodes not labelled ``kosmos.io/exclude=true``."""
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": EXCLUDE_LABEL, "operator": "NotIn", "values": ["true"]}
                        ]
                    }
                ]
            }
        }
    }


def spread_affinity(component: str, *, required: bool) -> Manifest:
    """Replicas on different nodes: ``required`` for the elector, preferred otherwise."""
    term = {
        "labelSelector": {"matchLabels": {"app": f"clusterlink-{component}"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    if required:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": term}
            ]
        }
    }


def pod_template(
    plan: ContainerPlan,
    settings: DeploySettings,
    *,
    service_account: str,
    affinity: Manifest,
    volumes: Sequence[Manifest] = (),
    host_network: bool = False,
    tolerations: Sequence[Manifest] = (),
    automount_token: bool = True,
) -> Manifest:
    pod_spec: Manifest = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": automount_token,
        "containers": [container(plan, settings)],
        "affinity": affinity,
        "terminationGracePeriodSeconds": 30,
    }
    all_volumes = list(volumes)
    if plan.mounts_control_kubeconfig:
        all_volumes.insert(0, control_kubeconfig_volume(plan.component))
    if all_volumes:
        pod_spec["volumes"] = all_volumes
    if host_network:
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if tolerations:
        pod_spec["tolerations"] = list(tolerations)
    if not plan.privileged and not plan.capabilities:
        pod_spec["securityContext"] = {"runAsNonRoot": True, "fsGroup": NON_ROOT_UID}
    return {"metadata": {"labels": labels_of(plan.component)}, "spec": pod_spec}


def deployment(
    plan: ContainerPlan,
    settings: DeploySettings,
    *,
    replicas: int,
    template: Manifest,
) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"clusterlink-{plan.component}",
            "namespace": settings.namespace,
            "labels": labels_of(plan.component),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": f"clusterlink-{plan.component}"}},
            "template": template,
        },
    }


def daemon_set(plan: ContainerPlan, settings: DeploySettings, *, template: Manifest) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": f"clusterlink-{plan.component}",
            "namespace": settings.namespace,
            "labels": labels_of(plan.component),
        },
        "spec": {
            "selector": {"matchLabels": {"app": f"clusterlink-{plan.component}"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": template,
        },
    }
