"""Create-or-update of generated manifests, and removal of exactly what was created.

Applying is idempotent: an object that exists and already carries every field of its
manifest is left alone ("unchanged"), so a second ``install`` or an interrupted one re-run
writes nothing twice. Fields the API server adds (defaults, status) are not compared. An
object that exists but was not created by the same owner (see :mod:`.ownership`) is never
changed nor later removed ("kept"). Secrets are written with ``data`` (base64), not
``stringData``, so a re-run compares equal on every backend.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from clusterlink.deploy.ownership import Owner
from clusterlink.deploy.targets import KIND_ORDER, ObjectId, ObjectTarget

Verb = Literal["created", "configured", "unchanged", "kept", "skipped", "deleted"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What happened to one object; ``note`` says why for ``kept`` and ``skipped``."""

    target: ObjectId
    verb: Verb
    note: str = ""

    def __str__(self) -> str:
        return f"{self.target} {self.verb}" + (f" ({self.note})" if self.note else "")


Report = Callable[[Applied], None]


def _ignore(_: Applied) -> None:
    return None


def with_secret_data(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret's ``stringData`` folded into ``data`` (base64), as the API server stores it."""
    converted = dict(manifest)
    if manifest.get("kind") != "Secret" or "stringData" not in manifest:
        return converted
    strings = converted.pop("stringData") or {}
    data = dict(converted.get("data") or {})
    data.update({k: base64.b64encode(v.encode()).decode() for k, v in strings.items()})
    converted["data"] = data
    return converted


def contains(current: Any, wanted: Any) -> bool:
    """Whether ``current`` has every field of ``wanted`` with the same value (lists whole)."""
    if isinstance(wanted, Mapping):
        return isinstance(current, Mapping) and all(
            key in current and contains(current[key], value) for key, value in wanted.items()
        )
    return bool(current == wanted)


def _replacement(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """``wanted`` over ``current``: labels and annotations merged, server-owned fields kept."""
    metadata = dict(current["metadata"])
    for field in ("labels", "annotations"):
        merged = {**(metadata.get(field) or {}), **(wanted["metadata"].get(field) or {})}
        if merged:
            metadata[field] = merged
    replacement = {**dict(current), **{k: v for k, v in wanted.items() if k != "metadata"}}
    replacement["metadata"] = metadata
    return replacement


def apply_one(target: ObjectTarget, manifest: Mapping[str, Any], owner: Owner) -> Applied:
    identity = ObjectId.of(manifest)
    if not target.holds(identity.kind):
        return Applied(identity, "skipped", f"{target.description} holds no such kind")
    wanted = with_secret_data(owner.stamp(manifest))
    current = target.get(identity)
    if current is None:
        target.create(wanted)
        return Applied(identity, "created")
    if not owner.owns(current):
        return Applied(identity, "kept", f"it existed already and is not labelled {owner}")
    if contains(current, wanted):
        return Applied(identity, "unchanged")
    target.replace(_replacement(current, wanted))
    return Applied(identity, "configured")


def apply_all(
    target: ObjectTarget,
    manifests: Iterable[Mapping[str, Any]],
    owner: Owner,
    report: Report = _ignore,
) -> list[Applied]:
    """Apply in the order given (generated manifests are in creation order)."""
    done: list[Applied] = []
    for manifest in manifests:
        applied = apply_one(target, manifest, owner)
        report(applied)
        done.append(applied)
    return done


def owned_objects(target: ObjectTarget, owner: Owner) -> list[ObjectId]:
    """Every object ``owner`` created that ``target`` can list, in removal order."""
    found: list[ObjectId] = []
    for kind in reversed(KIND_ORDER):
        if target.holds(kind):
            found += sorted(ObjectId.of(o) for o in target.list_labelled(kind, owner.selector))
    return found


def remove_owned(
    target: ObjectTarget,
    owner: Owner,
    report: Report = _ignore,
    *,
    keep: Sequence[ObjectId] = (),
) -> list[Applied]:
    """Delete everything ``owner`` created (except ``keep``), dependents first."""
    removed: list[Applied] = []
    for identity in owned_objects(target, owner):
        if identity in keep:
            continue
        if target.delete(identity):
            applied = Applied(identity, "deleted")
            report(applied)
            removed.append(applied)
    return removed
