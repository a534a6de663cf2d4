"""ClusterRoles, Roles and their bindings, generated from :mod:`.access`.

One rule per table entry keeps the generated RBAC readable next to the code it mirrors.
Entries limited to one namespace become a Role there; the others a ClusterRole. API groups
and resource names come from the same table the ``kube`` store uses for its requests, so the
RBAC names exactly the paths the store calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clusterlink.deploy.access import OWN_CLUSTER, OWN_NAMESPACE, Access
from clusterlink.store.kinds import DEFAULT_KINDS
from clusterlink.store.kube.resources import KubeResources

Manifest = dict[str, Any]
RBAC_API = "rbac.authorization.k8s.io/v1"
_VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete")


def api_resource(kind: str) -> tuple[str, str]:
    """``(api group, plural)`` of a kind the store holds: ``("kosmos.io", "clusters")``."""
    return KubeResources.of(DEFAULT_KINDS).group_and_plural(kind)


def resolved_names(access: Access, cluster: str | None) -> tuple[str, ...]:
    """``resource_names`` with :data:`OWN_CLUSTER` replaced by ``cluster``."""
    if OWN_CLUSTER not in access.resource_names:
        return access.resource_names
    if cluster is None:
        raise ValueError(f"access to {access.kind} names the member's cluster; give its name")
    return tuple(cluster if name == OWN_CLUSTER else name for name in access.resource_names)


def policy_rule(access: Access, cluster: str | None = None) -> Manifest:
    group, plural = api_resource(access.kind)
    resource = f"{plural}/{access.subresource}" if access.subresource else plural
    rule: Manifest = {
        "apiGroups": [group],
        "resources": [resource],
        "verbs": [verb for verb in _VERB_ORDER if verb in access.verbs],
    }
    names = resolved_names(access, cluster)
    if names:
        rule["resourceNames"] = list(names)
    return rule


def resolved_namespace(access: Access, own_namespace: str) -> str | None:
    return own_namespace if access.namespace == OWN_NAMESPACE else access.namespace


def roles(
    name: str,
    accesses: Iterable[Access],
    own_namespace: str,
    labels: dict[str, str],
    *,
    cluster: str | None = None,
) -> list[Manifest]:
    """The ClusterRole and the Roles (one per namespace) named ``name`` granting ``accesses``
    (of member ``cluster``, if they name it); none when there is nothing to grant."""
    by_namespace: dict[str | None, list[Manifest]] = {}
    for access in accesses:
        namespace = resolved_namespace(access, own_namespace)
        by_namespace.setdefault(namespace, []).append(policy_rule(access, cluster))
    manifests: list[Manifest] = []
    for namespace in sorted(by_namespace, key=lambda n: (n is not None, n or "")):
        metadata: Manifest = {"name": name, "labels": dict(labels)}
        if namespace is not None:
            metadata["namespace"] = namespace
        manifests.append(
            {
                "apiVersion": RBAC_API,
                "kind": "ClusterRole" if namespace is None else "Role",
                "metadata": metadata,
                "rules": by_namespace[namespace],
            }
        )
    return manifests


def bindings(
    granted: Iterable[Manifest], name: str, subject: tuple[str, str], labels: dict[str, str]
) -> list[Manifest]:
    """A binding named ``name`` of each (Cluster)Role in ``granted`` to ServiceAccount
    ``subject`` (namespace, name), in the Role's namespace."""
    subject_namespace, subject_name = subject
    made: list[Manifest] = []
    for role in granted:
        metadata: Manifest = {"name": name, "labels": dict(labels)}
        namespace = role["metadata"].get("namespace")
        if namespace is not None:
            metadata["namespace"] = namespace
        made.append(
            {
                "apiVersion": RBAC_API,
                "kind": "RoleBinding" if namespace is not None else "ClusterRoleBinding",
                "metadata": metadata,
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": role["kind"],
                    "name": role["metadata"]["name"],
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": subject_name, "namespace": subject_namespace}
                ],
            }
        )
    return made
