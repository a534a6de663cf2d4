"""The store protocol every component codes against, whatever the backend.

Objects are Kubernetes JSON dicts (``apiVersion``, ``kind``, ``metadata``, ``spec``,
``status``) so the ``kube`` backend can pass them to an API server unchanged. The API is
synchronous: components run their loops in threads, and every method may block briefly on
I/O. Returned dicts are fresh copies the caller owns.

Semantics follow Kubernetes: ``resourceVersion`` is an opaque string (compare for equality
only), a write whose ``metadata.resourceVersion`` is stale raises :class:`~.errors.ConflictError`,
an empty one writes unconditionally, and a write that changes nothing is not a write (same
``resourceVersion``, no watch event).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol, Self

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class ObjectList:
    """The objects of one list call and the revision they are a consistent snapshot of."""

    items: tuple[dict[str, Any], ...]
    resource_version: str


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. ``DELETED`` carries the object's last state, with the deletion's revision."""

    type: EventType
    object: dict[str, Any]


class Watch(Protocol):
    """An iterator of events that ends when stopped, when its timeout expires, or never.

    Iteration raises :class:`~.errors.GoneError` when the history it needs was compacted (list
    again and watch from the list's revision) and :class:`~.errors.UnavailableError` when the
    backend fails; after either, a new watch from :attr:`resource_version` resumes losslessly.
    """

    @property
    def resource_version(self) -> str:
        """The revision up to which this watch has delivered every matching event."""
        ...

    def __iter__(self) -> Iterator[WatchEvent]: ...

    def __next__(self) -> WatchEvent: ...

    def stop(self) -> None:
        """End the iteration soon; safe to call from any thread."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class ObjectStore(Protocol):
    """Kubernetes-shaped object storage. ``namespace`` is ``""`` for cluster-scoped kinds.

    For listing and watching, ``namespace=None`` means every namespace. Selectors use the
    Kubernetes text syntax (``kosmos.io/cluster=a,!kosmos.io/exclude``; field selectors on
    ``metadata.name`` and ``metadata.namespace``) and raise :class:`~.errors.BadRequestError`
    when malformed.
    """

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        """The object, or :class:`~.errors.NotFoundError`."""
        ...

    def list(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> ObjectList:
        """Matching objects, ordered by namespace and name, at one consistent revision."""
        ...

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
        """Changes after ``resource_version``.

        With an empty ``resource_version`` (or ``"0"``) the watch first sends ``ADDED`` for
        every matching object, then changes after that snapshot. With a selector, an object
        that stops matching arrives as ``DELETED`` and one that starts matching as ``ADDED``.
        """
        ...

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new object; sets ``uid``, ``creationTimestamp``, ``generation`` (1) and
        ``resourceVersion``. Raises :class:`~.errors.AlreadyExistsError`."""
        ...

    def create_many(self, objs: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
        """:meth:`create` each object, in order; the stored objects in the same order.

        The embedded store writes them in one transaction: its watchers wake once and find
        them all, instead of once per object, and when one fails (for instance
        :class:`~.errors.AlreadyExistsError`) none is created. The Kubernetes API has no
        such request, so there each is its own create and those before a failure stay:
        callers must not rely on all or nothing."""
        ...

    def update(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Replace an object (its ``.status`` is kept when the kind has a status
        subresource). Bumps ``generation`` when anything but metadata and status changed;
        removing the last finalizer of an object being deleted removes it."""
        ...

    def update_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Replace only ``.status``; :class:`~.errors.InvalidError` for kinds without the
        status subresource."""
        ...

    def patch(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386) atomically, with ``update`` rules; a
        ``metadata.resourceVersion`` in the patch is a precondition."""
        ...

    def patch_status(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        """Merge-patch, with ``update_status`` rules."""
        ...

    def delete(
        self, kind: str, name: str, namespace: str = "", *, resource_version: str = ""
    ) -> dict[str, Any] | None:
        """Delete an object. Returns None when it is gone, or the object (with
        ``deletionTimestamp``) while finalizers remain. ``resource_version`` is an optional
        precondition."""
        ...

    def delete_collection(self, kind: str, namespace: str = "", *, label_selector: str = "") -> int:
        """Delete every object of ``kind`` in ``namespace`` that ``label_selector`` matches,
        as Kubernetes' DELETE on a collection (``deletecollection``) does.

        Each object goes as :meth:`delete` would take it: removed, or given its
        ``deletionTimestamp`` while finalizers remain. Returns how many objects were deleted
        or marked for deletion (those already waiting for their finalizers included, as the
        list Kubernetes answers includes them). ``namespace`` is required for namespaced
        kinds, as for :meth:`delete`; a malformed selector raises
        :class:`~.errors.BadRequestError`. Watchers see the same events as for one
        :meth:`delete` per object.
        """
        ...

    def close(self) -> None:
        """Release connections; stop using the store afterwards."""
        ...
