"""The kinds ``kosmosctl`` installs, their order, and the minimal interface to a cluster.

Installing touches a dozen kinds (Namespace, CRD, RBAC, workloads, Secrets, Clusters); the
object store holds only the few the components use. :class:`ObjectTarget` is what install,
join, unjoin and uninstall need of a cluster, whatever reaches it: a real API server
(:mod:`.kube_target`, every kind) or a store (:mod:`.store_target`, the kinds it holds;
``holds`` says which, and the rest is reported as skipped rather than pretended).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "Cluster",
    "Deployment",
    "DaemonSet",
)
"""Creation order (a Namespace before what lives in it, CRDs before their objects, RBAC
before the pods that use it); removal runs it backwards."""


@dataclass(frozen=True, slots=True, order=True)
class ObjectId:
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectId:
        metadata = obj.get("metadata") or {}
        return cls(str(obj["kind"]), str(metadata["name"]), str(metadata.get("namespace") or ""))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


class ObjectTarget(Protocol):
    """One cluster as install/join see it. Store errors (``clusterlink.store``) propagate."""

    @property
    def description(self) -> str:
        """Where this is, for messages: ``API server https://...`` or ``store sqlite://...``."""
        ...

    def holds(self, kind: str) -> bool:
        """Whether objects of ``kind`` can be written here at all."""
        ...

    def get(self, target: ObjectId) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        ...

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]: ...

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the object; ``metadata.resourceVersion`` is the precondition."""
        ...

    def delete(self, target: ObjectId) -> bool:
        """Delete; False when it was already gone."""
        ...

    def list_labelled(self, kind: str, label_selector: str) -> list[dict[str, Any]]:
        """Objects of ``kind`` in every namespace matching the selector."""
        ...

    def close(self) -> None: ...
