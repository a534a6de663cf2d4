"""The kinds the store holds and the per-kind rules that change how writes behave.

A real API server knows each resource's scope and subresources from its registry; the
embedded store needs the same facts to treat ``.status``, namespaces and ``apiVersion`` as
Kubernetes would, so the same controller code behaves identically on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clusterlink.store.errors import InvalidError


@dataclass(frozen=True, slots=True)
class KindInfo:
    """What the store must know about one kind.

    ``status_subresource``: ``.status`` is written only through ``update_status``; normal
    writes keep the stored status. ``status_on_create``: a create keeps the given status
    (true for core kinds the lab writes with status, false for CRDs, as Kubernetes).
    """

    kind: str
    api_version: str
    namespaced: bool
    status_subresource: bool
    status_on_create: bool = False


_DEFAULT_KINDS = (
    KindInfo("Cluster", "kosmos.io/v1alpha1", namespaced=False, status_subresource=True),
    KindInfo("ClusterNode", "kosmos.io/v1alpha1", namespaced=False, status_subresource=True),
    KindInfo("NodeConfig", "kosmos.io/v1alpha1", namespaced=False, status_subresource=True),
    KindInfo("Node", "v1", namespaced=False, status_subresource=True, status_on_create=True),
    KindInfo("Pod", "v1", namespaced=True, status_subresource=True, status_on_create=True),
    KindInfo("Lease", "coordination.k8s.io/v1", namespaced=True, status_subresource=False),
    KindInfo("Secret", "v1", namespaced=True, status_subresource=False),
    KindInfo("ConfigMap", "v1", namespaced=True, status_subresource=False),
    KindInfo("IPPool", "crd.projectcalico.org/v1", namespaced=False, status_subresource=False),
)


@dataclass(frozen=True, slots=True)
class KindRegistry:
    """A fixed set of kinds, looked up by name with a clear error for unknown ones."""

    by_kind: Mapping[str, KindInfo]

    @classmethod
    def of(cls, kinds: Iterable[KindInfo]) -> KindRegistry:
        return cls(MappingProxyType({info.kind: info for info in kinds}))

    def info(self, kind: str) -> KindInfo:
        found = self.by_kind.get(kind)
        if found is None:
            known = ", ".join(sorted(self.by_kind))
            raise InvalidError(f"unknown kind {kind!r}; the store holds {known}", kind=kind)
        return found


DEFAULT_KINDS = KindRegistry.of(_DEFAULT_KINDS)
