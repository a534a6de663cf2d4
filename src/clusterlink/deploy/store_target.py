"""An :class:`~.targets.ObjectTarget` over an object store, for the lab's embedded stores.

The store holds the kinds the components use (Cluster, Secret, ...), not Namespaces, RBAC
or workloads: on the lab there is no kubelet to run a Deployment and no API server to
enforce RBAC, the lab starts the component processes itself. So only the held kinds are
written; ``install`` and ``join`` report the others as skipped, naming this reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clusterlink.deploy.targets import ObjectId
from clusterlink.store import DEFAULT_KINDS, KindRegistry, NotFoundError, ObjectStore


class StoreTarget:
    def __init__(
        self, store: ObjectStore, description: str, kinds: KindRegistry = DEFAULT_KINDS
    ) -> None:
        self._store = store
        self._kinds = kinds
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    def holds(self, kind: str) -> bool:
        return kind in self._kinds.by_kind

    def get(self, target: ObjectId) -> dict[str, Any] | None:
        try:
            return self._store.get(target.kind, target.name, target.namespace)
        except NotFoundError:
            return None

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._store.create(obj)

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._store.update(obj)

    def delete(self, target: ObjectId) -> bool:
        try:
            self._store.delete(target.kind, target.name, target.namespace)
        except NotFoundError:
            return False
        return True

    def list_labelled(self, kind: str, label_selector: str) -> list[dict[str, Any]]:
        return list(self._store.list(kind, label_selector=label_selector).items)

    def close(self) -> None:
        """Nothing: the store belongs to whoever opened it."""
