"""A store wrapper that records every call as the RBAC request it would be on Kubernetes.

Components run against it in-process; what it records is compared with the access table
their RBAC is generated from. It can also lose one create race on purpose, so the code path
that handles "someone else created it first" runs too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clusterlink.store import AlreadyExistsError, ObjectList, ObjectStore, Watch


@dataclass(frozen=True, slots=True)
class Call:
    """One request: ``namespace`` None for cluster-scoped objects and all-namespace reads;
    ``name`` of a list or watch is the one its ``metadata.name`` field selector picks, as the
    Kubernetes authorizer sees it."""

    kind: str
    verb: str
    subresource: str
    namespace: str | None
    name: str


def _selected_name(field_selector: str) -> str:
    for clause in field_selector.split(","):
        field, found, value = clause.partition("=")
        if found and field.strip() == "metadata.name" and not value.startswith("="):
            return value.strip()
    return ""


class RecordingStore:
    """An :class:`ObjectStore` that forwards to ``inner`` and records each call."""

    def __init__(self, inner: ObjectStore, *, lose_first_create_of: frozenset[str] = frozenset()):
        self.inner = inner
        self.calls: set[Call] = set()
        self._lock = threading.Lock()
        self._lose_first_create_of = set(lose_first_create_of)

    def _record(
        self, kind: str, verb: str, namespace: str | None, name: str = "", subresource: str = ""
    ) -> None:
        with self._lock:
            self.calls.add(Call(kind, verb, subresource, namespace or None, name))

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        self._record(kind, "get", namespace, name)
        return self.inner.get(kind, name, namespace)

    def list(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> ObjectList:
        self._record(kind, "list", namespace, _selected_name(field_selector))
        return self.inner.list(
            kind, namespace=namespace, label_selector=label_selector, field_selector=field_selector
        )

    def watch(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        timeout_seconds: float | None = None,
    ) -> Watch:
        self._record(kind, "watch", namespace, _selected_name(field_selector))
        return self.inner.watch(
            kind,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
        )

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        kind, metadata = obj["kind"], obj["metadata"]
        self._record(kind, "create", metadata.get("namespace"), metadata["name"])
        created = self.inner.create(obj)
        with self._lock:
            lose = kind in self._lose_first_create_of
            self._lose_first_create_of.discard(kind)
        if lose:
            raise AlreadyExistsError("lost a create race on purpose", kind=kind)
        return created

    def update(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        self._record(obj["kind"], "update", metadata.get("namespace"), metadata["name"])
        return self.inner.update(obj)

    def update_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        self._record(obj["kind"], "update", metadata.get("namespace"), metadata["name"], "status")
        return self.inner.update_status(obj)

    def patch(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        self._record(kind, "patch", namespace, name)
        return self.inner.patch(kind, name, patch, namespace)

    def patch_status(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        self._record(kind, "patch", namespace, name, "status")
        return self.inner.patch_status(kind, name, patch, namespace)

    def delete(
        self, kind: str, name: str, namespace: str = "", *, resource_version: str = ""
    ) -> dict[str, Any] | None:
        self._record(kind, "delete", namespace, name)
        return self.inner.delete(kind, name, namespace, resource_version=resource_version)

    def delete_collection(self, kind: str, namespace: str = "", *, label_selector: str = "") -> int:
        self._record(kind, "deletecollection", namespace)
        return self.inner.delete_collection(kind, namespace, label_selector=label_selector)

    def close(self) -> None:
        self.inner.close()
