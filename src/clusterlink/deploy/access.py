"""Which API calls each component makes, on which cluster: the source of its RBAC.

Each entry mirrors a call in the component's code (``tests/deploy/test_rbac.py`` runs the
components against a recording store and fails when code and table disagree), and the
Roles and ClusterRoles are generated from it, so a component is granted exactly what it
calls and nothing is ever ``*``. ``control`` is the control-plane cluster (for member
components, reached through the kubeconfig in Secret ``clusterlink-agent-proxy``);
``member`` is the cluster the component runs in, reached with its ServiceAccount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from clusterlink.controllers.cidr_discovery import FLANNEL_CONFIGMAP
from clusterlink.controllers.elector import LEASE_NAME as ELECTOR_LEASE

Verb = Literal["get", "list", "watch", "create", "update", "patch", "delete"]
Component = Literal["network-manager", "controller-manager", "elector", "agent", "floater"]

OWN_NAMESPACE: Final = "$(namespace)"
"""Stands for the namespace the components are installed in (``DeploySettings.namespace``)."""

OWN_CLUSTER: Final = "$(cluster)"
"""Stands for the member's own Cluster name in ``resource_names``: a member may read only its
own Cluster, whose siblings' ``spec.kubeconfig`` hold other members' credentials."""

NETWORK_MANAGER_LEASE: Final = "network-manager"
CONTROLLER_MANAGER_LEASE: Final = "controller-manager"


@dataclass(frozen=True, slots=True)
class Access:
    """``verbs`` on ``kind`` (or its ``subresource``), in ``namespace`` (None: every
    namespace, or cluster-scoped), limited to ``resource_names`` when given; a list or watch
    limited so is allowed only with the field selector ``metadata.name=<that name>``."""

    kind: str
    verbs: frozenset[Verb]
    subresource: str = ""
    namespace: str | None = None
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ComponentAccess:
    component: Component
    control: tuple[Access, ...]
    member: tuple[Access, ...]


def _access(
    kind: str,
    *verbs: Verb,
    subresource: str = "",
    namespace: str | None = None,
    resource_names: tuple[str, ...] = (),
) -> Access:
    return Access(kind, frozenset(verbs), subresource, namespace, resource_names)


def lease_access(lease: str) -> tuple[Access, ...]:
    """Leader election on one Lease: RBAC cannot limit ``create`` to a name, the rest can."""
    return (
        _access("Lease", "get", "update", namespace=OWN_NAMESPACE, resource_names=(lease,)),
        _access("Lease", "create", namespace=OWN_NAMESPACE),
    )


NETWORK_MANAGER = ComponentAccess(
    "network-manager",
    control=(
        _access("Cluster", "list", "watch"),
        _access("Cluster", "patch", subresource="status"),
        _access("ClusterNode", "list", "watch"),
        _access("ClusterNode", "patch", subresource="status"),
        _access("NodeConfig", "get", "list", "watch", "create", "update", "delete"),
        *lease_access(NETWORK_MANAGER_LEASE),
    ),
    member=(),
)

CONTROLLER_MANAGER = ComponentAccess(
    "controller-manager",
    control=(
        _access("Cluster", "list", "watch", resource_names=(OWN_CLUSTER,)),
        _access("Cluster", "patch", subresource="status", resource_names=(OWN_CLUSTER,)),
        _access("ClusterNode", "get", "list", "watch", "create", "patch", "delete"),
        # the routes of its own cluster's NodeConfigs are the remote CIDRs (no secrets there,
        # unlike the other clusters' Cluster objects)
        _access("NodeConfig", "list", "watch"),
    ),
    member=(
        _access("Node", "list", "watch"),
        _access("Pod", "list", "watch", namespace="kube-system"),
        # CIDR discovery reads them; the disabled pools for remote CIDRs are written
        _access("IPPool", "list", "watch", "create", "update", "delete"),
        _access("ConfigMap", "list", "watch", resource_names=(FLANNEL_CONFIGMAP,)),
        *lease_access(CONTROLLER_MANAGER_LEASE),
    ),
)

ELECTOR = ComponentAccess(
    "elector",
    control=(_access("ClusterNode", "get", "list", "watch", "patch"),),
    member=lease_access(ELECTOR_LEASE),
)

AGENT = ComponentAccess(
    "agent",
    control=(
        _access("NodeConfig", "list", "watch"),
        _access("NodeConfig", "patch", subresource="status"),
        _access("Cluster", "list", "watch", resource_names=(OWN_CLUSTER,)),
        _access("ClusterNode", "list", "watch", "patch"),
    ),
    member=(),
)

FLOATER = ComponentAccess(
    "floater",
    control=(),
    member=(
        # registration (create; update after an unclean restart; delete on stop), plans
        # (list and watch by label), results (get: answered before a restart?; create)
        _access(
            "ConfigMap",
            "get",
            "list",
            "watch",
            "create",
            "update",
            "delete",
            namespace=OWN_NAMESPACE,
        ),
    ),
)
"""Deployed by ``kosmosctl dr`` only, for the duration of a check (upstream grants ``*``)."""

COMPONENTS: Final = (NETWORK_MANAGER, CONTROLLER_MANAGER, ELECTOR, AGENT, FLOATER)
MEMBER_COMPONENTS: Final = (CONTROLLER_MANAGER, ELECTOR, AGENT)
