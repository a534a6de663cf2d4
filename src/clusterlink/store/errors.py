"""Typed failures of store operations, shaped like the Kubernetes API's ``Status`` errors.

Controllers branch on the failure (retry on :class:`ConflictError`, relist on :class:`GoneError`,
back off on :class:`UnavailableError`), so each has its own class; each carries the object it is
about and the Kubernetes ``reason`` and HTTP ``code`` the ``kube`` backend maps from.
"""

from __future__ import annotations

from typing import ClassVar


class StoreError(Exception):
    """Base of every store failure."""

    reason: ClassVar[str] = "InternalError"
    code: ClassVar[int] = 500

    def __init__(
        self, message: str, *, kind: str = "", name: str = "", namespace: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.namespace = namespace


class NotFoundError(StoreError):
    """The object does not exist."""

    reason = "NotFound"
    code = 404


class AlreadyExistsError(StoreError):
    """A create named an object that exists."""

    reason = "AlreadyExists"
    code = 409


class ConflictError(StoreError):
    """A write's resourceVersion precondition no longer holds: re-read and retry."""

    reason = "Conflict"
    code = 409


class GoneError(StoreError):
    """A watch asked for history the store no longer keeps: list again and watch from there."""

    reason = "Expired"
    code = 410


class InvalidError(StoreError):
    """A request whose object or arguments break the store's rules; retrying cannot help."""

    reason = "Invalid"
    code = 422


class BadRequestError(StoreError):
    """A malformed selector or resourceVersion; ``position`` is the offset in a selector."""

    reason = "BadRequest"
    code = 400

    def __init__(self, message: str, *, selector: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.selector = selector
        self.position = position


class UnavailableError(StoreError):
    """The backend cannot be reached or is locked for too long; retrying later may help."""

    reason = "ServiceUnavailable"
    code = 503


def describe(kind: str, name: str, namespace: str = "") -> str:
    """``Lease "kube-system/elector"`` or ``Cluster "cluster-a"``, as in error messages."""
    return f'{kind} "{namespace}/{name}"' if namespace else f'{kind} "{name}"'
