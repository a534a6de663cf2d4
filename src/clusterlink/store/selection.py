"""Which objects and events a list or watch returns: namespace, label and field selectors.

Kept out of the backends so that every embedded backend filters identically, including the
Kubernetes rule that an object moving out of a watch's selector arrives as ``DELETED`` and
one moving in arrives as ``ADDED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clusterlink.store.field_selectors import FieldSelector, parse_field_selector
from clusterlink.store.label_selectors import LabelSelector, parse_label_selector
from clusterlink.store.protocol import EventType, WatchEvent


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return labels


@dataclass(frozen=True, slots=True)
class Selection:
    """A namespace (None: all), a label selector and a field selector."""

    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector

    @classmethod
    def parse(cls, namespace: str | None, label_selector: str, field_selector: str) -> Selection:
        """Raises :class:`~.errors.BadRequestError` for malformed selectors."""
        return cls(
            namespace, parse_label_selector(label_selector), parse_field_selector(field_selector)
        )

    @property
    def name(self) -> str | None:
        """The one name selected by ``metadata.name=...``, which backends can filter on."""
        for requirement in self.fields.requirements:
            if requirement.field == "metadata.name" and requirement.equal:
                return requirement.value
        return None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return self._matches_apart_from_labels(obj) and self.labels.matches(labels_of(obj))

    def event(
        self, type_: EventType, obj: dict[str, Any], previous_labels: Mapping[str, str] | None
    ) -> WatchEvent | None:
        """The event a watcher with this selection sees for a change, if any."""
        now = self.matches(obj)
        if type_ != "MODIFIED" or previous_labels is None:
            return WatchEvent(type_, obj) if now else None
        # Namespace and name never change, so only the labels can have moved the object.
        before = self._matches_apart_from_labels(obj) and self.labels.matches(previous_labels)
        if now and before:
            return WatchEvent("MODIFIED", obj)
        if now:
            return WatchEvent("ADDED", obj)
        if before:
            return WatchEvent("DELETED", obj)
        return None

    def may_report(
        self, labels: Mapping[str, str], previous_labels: Mapping[str, str] | None
    ) -> bool:
        """False when the labels alone rule out any event for this change (see :meth:`event`),
        so that a backend need not decode the object to know."""
        if self.labels.matches(labels):
            return True
        return previous_labels is not None and self.labels.matches(previous_labels)

    def _matches_apart_from_labels(self, obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        if self.namespace is not None and (metadata.get("namespace") or "") != self.namespace:
            return False
        return self.fields.matches(obj)
