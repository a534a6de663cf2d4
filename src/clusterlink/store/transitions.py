"""The Kubernetes write rules, as pure functions from (stored object, request) to new state.

Which metadata the store owns, when ``generation`` moves, what the status subresource
protects, how finalizers delay a delete: backends only persist what these functions decide,
so every embedded backend behaves the same and the rules are tested once.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clusterlink.store.errors import ConflictError
from clusterlink.store.kinds import KindInfo
from clusterlink.store.merge_patch import apply_merge_patch
from clusterlink.store.objects import ObjectKey
from clusterlink.store.protocol import EventType

Subresource = Literal["", "status"]

# Metadata the store sets; what a client sends for these is ignored.
_OWNED_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
)


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the store assigns to one write: its revision and its wall-clock time."""

    revision: int
    timestamp: str

    @classmethod
    def at(cls, revision: int, seconds: float) -> Stamp:
        return cls(revision, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)))


@dataclass(frozen=True, slots=True)
class Outcome:
    """The object after a write and the event it causes; no event means nothing changed."""

    object: dict[str, Any]
    event: EventType | None


def _spec_part(info: KindInfo, obj: Mapping[str, Any]) -> dict[str, Any]:
    ignored = {"metadata", "status"} if info.status_subresource else {"metadata"}
    return {key: value for key, value in obj.items() if key not in ignored}


def _without_version(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": metadata}


def check_precondition(key: ObjectKey, current: Mapping[str, Any], expected: str) -> None:
    """Raise :class:`ConflictError` unless ``expected`` is empty or the stored resourceVersion."""
    if expected and expected != current["metadata"]["resourceVersion"]:
        raise ConflictError(
            f"Operation cannot be fulfilled on {key}: the object has been modified; "
            "please apply your changes to the latest version and try again",
            kind=key.kind,
            name=key.name,
            namespace=key.namespace,
        )


def created(info: KindInfo, request: Mapping[str, Any], stamp: Stamp, uid: str) -> dict[str, Any]:
    """The stored form of a new object."""
    obj = copy.deepcopy(dict(request))
    obj["apiVersion"] = info.api_version
    metadata = {k: v for k, v in obj["metadata"].items() if k not in _OWNED_METADATA}
    if not info.namespaced:
        metadata.pop("namespace", None)
    metadata.update(
        uid=uid,
        creationTimestamp=stamp.timestamp,
        generation=1,
        resourceVersion=str(stamp.revision),
    )
    obj["metadata"] = metadata
    if info.status_subresource and not info.status_on_create:
        obj.pop("status", None)
    return obj


def _finalizer_problem(current: Mapping[str, Any], new_metadata: Mapping[str, Any]) -> str | None:
    if "deletionTimestamp" not in current["metadata"]:
        return None
    before = set(current["metadata"].get("finalizers") or [])
    added = sorted(set(new_metadata.get("finalizers") or []) - before)
    return (
        f"no new finalizers can be added while the object is being deleted: {added}"
        if added
        else None
    )


def updated(
    info: KindInfo,
    key: ObjectKey,
    current: Mapping[str, Any],
    request: Mapping[str, Any],
    *,
    stamp: Stamp,
    subresource: Subresource,
) -> Outcome:
    """The object after an update of the main resource or of its status."""
    check_precondition(key, current, request["metadata"].get("resourceVersion") or "")
    if subresource == "status":
        new = copy.deepcopy(dict(current))
        if "status" in request:
            new["status"] = copy.deepcopy(request["status"])
        else:
            new.pop("status", None)
    else:
        new = copy.deepcopy(dict(request))
        new["apiVersion"] = info.api_version
        metadata = {k: v for k, v in new["metadata"].items() if k not in _OWNED_METADATA}
        metadata.update(
            {k: current["metadata"][k] for k in _OWNED_METADATA if k in current["metadata"]}
        )
        problem = _finalizer_problem(current, metadata)
        if problem:
            raise key.invalid("metadata.finalizers", problem)
        new["metadata"] = metadata
        if info.status_subresource:
            new.pop("status", None)
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
    if _without_version(new) == _without_version(current):
        return Outcome(copy.deepcopy(dict(current)), None)
    if _spec_part(info, new) != _spec_part(info, current):
        new["metadata"]["generation"] = current["metadata"].get("generation", 0) + 1
    new["metadata"]["resourceVersion"] = str(stamp.revision)
    finalized = "deletionTimestamp" in new["metadata"] and not new["metadata"].get("finalizers")
    return Outcome(new, "DELETED" if finalized else "MODIFIED")


def patched(
    info: KindInfo,
    key: ObjectKey,
    current: Mapping[str, Any],
    patch: Mapping[str, Any],
    *,
    stamp: Stamp,
    subresource: Subresource,
) -> Outcome:
    """The object after a JSON merge patch; a patched resourceVersion is a precondition."""
    merged = apply_merge_patch(current, patch)
    metadata = merged.get("metadata")
    if not isinstance(metadata, dict):
        raise key.invalid("metadata", "Required value")
    if (metadata.get("name"), metadata.get("namespace", "") or "") != (key.name, key.namespace):
        raise key.invalid("metadata.name", "a patch cannot rename or move an object")
    return updated(info, key, current, merged, stamp=stamp, subresource=subresource)


def deleted(key: ObjectKey, current: Mapping[str, Any], stamp: Stamp, expected: str) -> Outcome:
    """The object after a delete request: removed, or marked while finalizers remain."""
    check_precondition(key, current, expected)
    metadata = current["metadata"]
    if not metadata.get("finalizers"):
        gone = copy.deepcopy(dict(current))
        gone["metadata"]["resourceVersion"] = str(stamp.revision)
        return Outcome(gone, "DELETED")
    if "deletionTimestamp" in metadata:
        return Outcome(copy.deepcopy(dict(current)), None)
    marked = copy.deepcopy(dict(current))
    marked["metadata"].update(
        deletionTimestamp=stamp.timestamp,
        deletionGracePeriodSeconds=0,
        generation=metadata.get("generation", 0) + 1,
        resourceVersion=str(stamp.revision),
    )
    return Outcome(marked, "MODIFIED")
