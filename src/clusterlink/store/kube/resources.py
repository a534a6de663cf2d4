"""The lightkube resource behind each kind the store holds, which fixes its REST paths.

Core kinds use lightkube's own resource classes; the ``kosmos.io`` CRDs and Calico's IPPool
are generic resources. Only their API paths are used: objects stay JSON dicts both ways,
so no field is lost to a model that does not know it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lightkube.core.resource import Resource, api_info
from lightkube.generic_resource import create_global_resource
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Node, Pod, Secret

from clusterlink.store.errors import InvalidError
from clusterlink.store.kinds import KindInfo, KindRegistry


@dataclass(frozen=True, slots=True)
class KubeResource:
    """One kind's lightkube resource and, when the kind has one, its status subresource."""

    info: KindInfo
    resource: type[Resource]
    status: type[Resource] | None


def _custom(info: KindInfo, plural: str) -> KubeResource:
    group, version = info.api_version.split("/")
    resource = create_global_resource(group, version, info.kind, plural)
    return KubeResource(info, resource, resource.Status if info.status_subresource else None)


@dataclass(frozen=True, slots=True)
class KubeResources:
    """Every kind of a :class:`KindRegistry` mapped to the resource the API server serves."""

    by_kind: Mapping[str, KubeResource]

    @classmethod
    def of(cls, kinds: KindRegistry) -> KubeResources:
        built = {
            "Cluster": lambda info: _custom(info, "clusters"),
            "ClusterNode": lambda info: _custom(info, "clusternodes"),
            "NodeConfig": lambda info: _custom(info, "nodeconfigs"),
            "IPPool": lambda info: _custom(info, "ippools"),
            "Node": lambda info: KubeResource(info, Node, Node.Status),
            "Pod": lambda info: KubeResource(info, Pod, Pod.Status),
            "Lease": lambda info: KubeResource(info, Lease, None),
            "Secret": lambda info: KubeResource(info, Secret, None),
            "ConfigMap": lambda info: KubeResource(info, ConfigMap, None),
        }
        missing = sorted(set(kinds.by_kind) - set(built))
        if missing:
            raise InvalidError(f"the kube store has no API resource for {', '.join(missing)}")
        return cls(
            MappingProxyType({kind: built[kind](info) for kind, info in kinds.by_kind.items()})
        )

    def resource(self, kind: str) -> KubeResource:
        return self.by_kind[kind]

    def group_and_plural(self, kind: str) -> tuple[str, str]:
        """``("kosmos.io", "clusters")``: how RBAC rules name a kind's resource."""
        info = api_info(self.by_kind[kind].resource)
        return str(info.resource.group), str(info.plural)
