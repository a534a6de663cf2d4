"""Identity and shape of the objects the store accepts.

Every object is addressed by ``(kind, namespace, name)``; this module derives that key,
checks it against the kind's scope, and rejects malformed metadata up front with
:class:`~.errors.InvalidError` naming the field, so no backend ever stores an object that the
Kubernetes API server would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clusterlink.store.errors import InvalidError, describe
from clusterlink.store.kinds import KindInfo, KindRegistry
from clusterlink.store.label_selectors import label_key_problem, label_value_problem

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_MAX = 253
_NAMESPACE_MAX = 63


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """Where an object lives: ``namespace`` is ``""`` for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return describe(self.kind, self.name, self.namespace)

    def invalid(self, field: str, message: str) -> InvalidError:
        return self.invalid_fields([(field, message)])

    def invalid_fields(self, problems: list[tuple[str, str]]) -> InvalidError:
        """:class:`InvalidError` listing every ``(field, message)`` at fault."""
        details = "; ".join(f"{field}: {message}" for field, message in problems)
        return InvalidError(
            f"{self} is invalid: {details}",
            kind=self.kind,
            name=self.name,
            namespace=self.namespace,
        )


def address(
    kinds: KindRegistry, kind: str, name: str, namespace: str
) -> tuple[KindInfo, ObjectKey]:
    """The key of an object named by a request, checked against the kind's scope."""
    if not name:
        raise ObjectKey(kind, namespace, name).invalid("metadata.name", "Required value")
    info, _ = collection_address(kinds, kind, namespace)
    return info, ObjectKey(kind, namespace, name)


def collection_address(
    kinds: KindRegistry, kind: str, namespace: str
) -> tuple[KindInfo, ObjectKey]:
    """The (nameless) key of all objects of ``kind`` in ``namespace``, checked against the
    kind's scope: a collection is in one namespace, or cluster-scoped."""
    info = kinds.info(kind)
    key = ObjectKey(kind, namespace, "")
    if info.namespaced and not namespace:
        raise key.invalid("metadata.namespace", f"Required value: {kind} is namespaced")
    if not info.namespaced and namespace:
        raise key.invalid("metadata.namespace", f"must be empty: {kind} is cluster-scoped")
    return info, key


def _text_map_problem(value: Any, check_keys: bool) -> str | None:
    if not isinstance(value, Mapping):
        return "must be a map of strings"
    for map_key, map_value in value.items():
        if not isinstance(map_key, str) or not isinstance(map_value, str):
            return f"entry {map_key!r} must map a string to a string"
        if check_keys:
            problem = label_key_problem(map_key) or label_value_problem(map_value)
            if problem:
                return problem
    return None


def _metadata_problems(info: KindInfo, metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    name = metadata.get("name")
    if not isinstance(name, str) or len(name) > _NAME_MAX or not _DNS_SUBDOMAIN.match(name):
        problems.append(("metadata.name", "must be a lowercase DNS subdomain (RFC 1123)"))
    namespace = metadata.get("namespace", "")
    if info.namespaced and (
        not isinstance(namespace, str)
        or len(namespace) > _NAMESPACE_MAX
        or not _DNS_LABEL.match(namespace)
    ):
        problems.append(("metadata.namespace", "must be a lowercase DNS label (RFC 1123)"))
    for field, check_keys in (("labels", True), ("annotations", False)):
        if field in metadata and metadata[field] is not None:
            problem = _text_map_problem(metadata[field], check_keys)
            if problem:
                problems.append((f"metadata.{field}", problem))
    finalizers = metadata.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        problems.append(("metadata.finalizers", "must be a list of strings"))
    return problems


def checked_key(kinds: KindRegistry, obj: Mapping[str, Any]) -> tuple[KindInfo, ObjectKey]:
    """The key of an object sent for writing, after checking its kind, apiVersion and metadata."""
    if not isinstance(obj, Mapping):
        raise InvalidError(f"an object must be a mapping, got {type(obj).__name__}")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InvalidError("object is invalid: kind: Required value")
    info = kinds.info(kind)
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise InvalidError(f"{kind} is invalid: metadata: Required value", kind=kind)
    name = metadata.get("name")
    namespace = metadata.get("namespace") or ""
    key = ObjectKey(
        kind,
        namespace if isinstance(namespace, str) and info.namespaced else "",
        name if isinstance(name, str) else "",
    )
    api_version = obj.get("apiVersion", info.api_version)
    if api_version != info.api_version:
        raise key.invalid("apiVersion", f"must be {info.api_version!r}, got {api_version!r}")
    if not info.namespaced and namespace:
        raise key.invalid("metadata.namespace", f"must be empty: {kind} is cluster-scoped")
    problems = _metadata_problems(info, metadata)
    if problems:
        raise key.invalid_fields(problems)
    return info, key
