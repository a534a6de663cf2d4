"""Whether the user may do what an install or a join is about to do, asked before doing it.

Without this, a join by a user lacking one right (say, creating ClusterRoles in the member)
stops halfway. Each right the manifests need (get, list, create, update and delete on
each resource, in its namespace) is asked of the API server with a SelfSubjectAccessReview,
which answers for the caller's own credentials. An embedded store has no RBAC: there is
nothing to ask, and the report says so instead of claiming a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lightkube.core.resource import api_info

from clusterlink.deploy.kube_target import NAMESPACED, RESOURCES
from clusterlink.deploy.preflight import PreflightFinding
from clusterlink.deploy.targets import ObjectTarget
from clusterlink.store import StoreError

VERBS = ("get", "list", "create", "update", "delete")


@runtime_checkable
class AccessReviewer(Protocol):
    """A target that can ask its API server (``KubeTarget``)."""

    def review_access(self, attributes: Mapping[str, str]) -> bool: ...


@dataclass(frozen=True, slots=True, order=True)
class Right:
    verb: str
    group: str
    resource: str
    namespace: str = ""

    def attributes(self) -> dict[str, str]:
        attributes = {"verb": self.verb, "group": self.group, "resource": self.resource}
        if self.namespace:
            attributes["namespace"] = self.namespace
        return attributes

    def __str__(self) -> str:
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.verb} {resource}{where}"


def rights_for(manifests: Iterable[Mapping[str, Any]]) -> list[Right]:
    """The rights writing and later removing ``manifests`` takes."""
    needed: set[Right] = set()
    for manifest in manifests:
        kind = str(manifest["kind"])
        if kind not in RESOURCES:
            continue
        info = api_info(RESOURCES[kind])
        namespace = str(manifest["metadata"].get("namespace") or "") if kind in NAMESPACED else ""
        for verb in VERBS:
            needed.add(Right(verb, info.resource.group, info.plural, namespace))
    return sorted(needed)


def review(target: ObjectTarget, rights: Iterable[Right], cluster: str) -> list[PreflightFinding]:
    """Errors for denied rights in ``cluster``; a note when they cannot be checked."""
    if not isinstance(target, AccessReviewer):
        return [
            PreflightFinding(
                "note",
                "rbac",
                f"{cluster}: {target.description} has no RBAC; access rights not checked",
            )
        ]
    denied: list[Right] = []
    for right in rights:
        try:
            allowed = target.review_access(right.attributes())
        except StoreError as exc:
            return [
                PreflightFinding(
                    "warning",
                    "rbac",
                    f"{cluster}: cannot ask {target.description} for access reviews ({exc}); "
                    "access rights not checked",
                )
            ]
        if not allowed:
            denied.append(right)
    if not denied:
        return []
    listed = "; ".join(str(right) for right in denied)
    return [
        PreflightFinding(
            "error", "rbac", f"{cluster}: your credentials are not allowed to {listed}"
        )
    ]
