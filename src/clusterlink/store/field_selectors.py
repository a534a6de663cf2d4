"""Kubernetes field selectors, limited to the fields every resource supports.

An agent watches only its own ``NodeConfig`` (``metadata.name=<node>``) instead of every
node's: with hundreds of nodes that is the difference between one event and hundreds per
change. Kubernetes supports ``metadata.name`` and ``metadata.namespace`` on all resources;
other fields are kind-specific there, so they are rejected here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clusterlink.store.errors import BadRequestError

FieldPath = Literal["metadata.name", "metadata.namespace"]
_FIELDS: tuple[FieldPath, ...] = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``metadata.name=x`` (``equal``) or ``metadata.name!=x``."""

    field: FieldPath
    value: str
    equal: bool

    def matches(self, obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        actual = metadata.get(self.field.removeprefix("metadata."), "") or ""
        return (actual == self.value) == self.equal


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """All requirements must match; the empty selector matches every object."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(requirement.matches(obj) for requirement in self.requirements)


def _requirement(text: str, clause: str) -> FieldRequirement:
    for operator in ("!=", "==", "="):
        field, found, value = clause.partition(operator)
        if found:
            field = field.strip()
            if field not in _FIELDS:
                raise BadRequestError(
                    f"invalid field selector {text!r}: field {field!r} is not supported; "
                    f"use one of {', '.join(_FIELDS)}",
                    selector=text,
                )
            path: FieldPath = "metadata.name" if field == "metadata.name" else "metadata.namespace"
            return FieldRequirement(path, value.strip(), equal=operator != "!=")
    raise BadRequestError(
        f"invalid field selector {text!r}: {clause!r} has no '=', '==' or '!='", selector=text
    )


def parse_field_selector(text: str) -> FieldSelector:
    """Parse ``metadata.name=a,metadata.namespace!=b``; raises BadRequestError if malformed."""
    if not text.strip():
        return FieldSelector()
    return FieldSelector(tuple(_requirement(text, clause) for clause in text.split(",")))
