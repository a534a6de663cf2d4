"""Reading and writing the ``kosmos.io`` kinds as typed models through any store.

The store speaks Kubernetes JSON dicts; controllers work on frozen pydantic models. These
helpers convert at the boundary using the API's own serialization, so an object that does
not parse raises :class:`~clusterlink.api.errors.InvalidObjectError` naming the bad field.
"""

from __future__ import annotations

from typing import TypeVar

from clusterlink.api.models import Cluster, ClusterNode, NodeConfig
from clusterlink.api.serialization import to_document
from clusterlink.store.protocol import ObjectStore

Model = TypeVar("Model", Cluster, ClusterNode, NodeConfig)


def _kind(model: type[Model]) -> str:
    kind: str = model.model_fields["kind"].default
    return kind


def get_model(store: ObjectStore, model: type[Model], name: str) -> Model:
    """The object named ``name`` as a ``model`` (raises :class:`~.errors.NotFoundError`)."""
    return model.model_validate(store.get(_kind(model), name))


def list_models(
    store: ObjectStore, model: type[Model], label_selector: str = ""
) -> tuple[list[Model], str]:
    """Every matching object as a ``model``, and the list's resourceVersion."""
    listed = store.list(_kind(model), label_selector=label_selector)
    return [model.model_validate(item) for item in listed.items], listed.resource_version


def create_model(store: ObjectStore, obj: Model) -> Model:
    """Create ``obj``; the result carries the store-assigned metadata."""
    return type(obj).model_validate(store.create(to_document(obj)))


def update_model(store: ObjectStore, obj: Model) -> Model:
    """Update ``obj`` (its resourceVersion, if set, is the precondition); status is kept."""
    return type(obj).model_validate(store.update(to_document(obj)))


def update_model_status(store: ObjectStore, obj: Model) -> Model:
    """Write only ``obj.status``."""
    return type(obj).model_validate(store.update_status(to_document(obj)))
