"""The object store: a Kubernetes-shaped protocol every component uses, and its backends.

Open one with :func:`open_store` (``sqlite:///path/cluster-a.db``); code against
:class:`ObjectStore`. Objects are Kubernetes JSON dicts; :mod:`clusterlink.store.typed`
converts the ``kosmos.io`` kinds to and from the API models.
"""

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
from clusterlink.store.kinds import DEFAULT_KINDS, KindInfo, KindRegistry
from clusterlink.store.label_selectors import LabelSelector, parse_label_selector
from clusterlink.store.merge_patch import apply_merge_patch
from clusterlink.store.opening import open_store
from clusterlink.store.protocol import EventType, ObjectList, ObjectStore, Watch, WatchEvent

__all__ = [
    "DEFAULT_KINDS",
    "AlreadyExistsError",
    "BadRequestError",
    "ConflictError",
    "EventType",
    "GoneError",
    "InvalidError",
    "KindInfo",
    "KindRegistry",
    "LabelSelector",
    "NotFoundError",
    "ObjectList",
    "ObjectStore",
    "StoreError",
    "UnavailableError",
    "Watch",
    "WatchEvent",
    "apply_merge_patch",
    "open_store",
    "parse_label_selector",
]
