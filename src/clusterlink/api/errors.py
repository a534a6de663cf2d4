"""Errors and problems that name the object and the field they are about.

An *error* stops an object from being read at all (:class:`InvalidObjectError`). A
*problem* (:class:`Problem`) is found in an object that was read: the components report it
on the object's status and in ``kosmosctl``, and keep working with everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Which object a message is about: ``Cluster/cluster-a``."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field of one object that is wrong, with a JSON path such as ``spec.podCIDRs[1]``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with an object that the planner worked around.

    ``error`` means part of the object was ignored (an entry, or the whole object);
    ``warning`` means everything was used but the result may not be what the user wants.
    """

    ref: ObjectRef
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.ref} {self.field}" if self.field else str(self.ref)
        return f"{self.severity}: {where}: {self.message}"


class InvalidObjectError(ValueError):
    """An object that cannot be read; lists every field at fault."""

    def __init__(self, ref: ObjectRef, errors: list[FieldError]) -> None:
        self.ref = ref
        self.errors = errors
        details = "; ".join(str(error) for error in errors)
        super().__init__(f"{ref}: {details}")


class InvalidDocumentError(ValueError):
    """Input text that is not a readable sequence of Kubernetes objects."""
