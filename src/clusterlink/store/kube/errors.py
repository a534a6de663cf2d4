"""API server failures turned into the store's typed errors, keeping the server's words.

Controllers branch on the error class, people read the message: each error names the
object the request was about, and its message carries the API server's ``Status`` message
and ``reason`` verbatim so nothing the server said is lost.
"""

from __future__ import annotations

import json
from typing import Any

from clusterlink.store.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    GoneError,
    InvalidError,
    NotFoundError,
    StoreError,
    UnavailableError,
)
from clusterlink.store.objects import ObjectKey


class UnauthorizedError(StoreError):
    """The API server did not accept the credentials of the kubeconfig or service account."""

    reason = "Unauthorized"
    code = 401


class ForbiddenError(StoreError):
    """The credentials lack an RBAC permission the request needs."""

    reason = "Forbidden"
    code = 403


def decode_status(body: bytes) -> dict[str, Any]:
    """The ``Status`` object of an error response, or a stand-in when the body is not one."""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return decoded
    text = body.decode("utf-8", "replace").strip()[:500]
    return {"kind": "Status", "message": text or "no message"}


def error_from_status(
    code: int, status: dict[str, Any], key: ObjectKey, *, reading: bool = False
) -> StoreError:
    """The typed error for an HTTP error ``code`` with ``status`` about ``key``.

    ``reading``: the request had no body, so an ``Invalid`` answer can only be about its
    query (a malformed resourceVersion or selector) and is a :class:`BadRequestError`.
    """
    reason = str(status.get("reason") or "")
    message = f"{status.get('message') or 'no message'} (HTTP {code}"
    message += f", reason {reason})" if reason else ")"
    where = {"kind": key.kind, "name": key.name, "namespace": key.namespace}
    if code == 400 or (code == 422 and reading):
        bad_request = BadRequestError(message)
        bad_request.kind, bad_request.name = key.kind, key.name
        bad_request.namespace = key.namespace
        return bad_request
    if code == 401:
        return UnauthorizedError(message, **where)
    if code == 403:
        return ForbiddenError(message, **where)
    if code == 404:
        return NotFoundError(message, **where)
    if code == 409:
        if reason == "AlreadyExists":
            return AlreadyExistsError(message, **where)
        return ConflictError(message, **where)
    if code == 410:
        return GoneError(message, **where)
    if code in (405, 406, 413, 415, 422):
        return InvalidError(message, **where)
    if code == 429 or code >= 500:
        return UnavailableError(message, **where)
    return StoreError(message, **where)
