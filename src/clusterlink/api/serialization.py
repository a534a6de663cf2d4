"""Reading and writing objects as Kubernetes JSON/YAML documents.

Every error names the object (kind and name, or the document's position when it has no
name) and the field, in the ``spec.clusterLinkOptions.networkType`` form users see in
``kubectl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from clusterlink.api.errors import FieldError, InvalidDocumentError, InvalidObjectError, ObjectRef
from clusterlink.api.models import KIND_MODELS, KosmosObject


def field_path(loc: Iterable[int | str]) -> str:
    """``("spec", "podCIDRs", 1)`` -> ``spec.podCIDRs[1]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _ref_of(document: Mapping[str, Any], position: str) -> ObjectRef:
    kind = document.get("kind")
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return ObjectRef(
        kind=kind if isinstance(kind, str) else "object",
        name=name if isinstance(name, str) and name else position,
    )


def parse_object(document: Any, position: str = "<unnamed>") -> KosmosObject:
    """Build the typed object of one decoded document, or raise :class:`InvalidObjectError`."""
    if not isinstance(document, Mapping):
        raise InvalidObjectError(
            ObjectRef("object", position),
            [FieldError("", f"expected a mapping, got {type(document).__name__}")],
        )
    ref = _ref_of(document, position)
    model = KIND_MODELS.get(ref.kind)
    if model is None:
        known = ", ".join(sorted(KIND_MODELS))
        raise InvalidObjectError(
            ref, [FieldError("kind", f"unknown kind; expected one of {known}")]
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = [FieldError(field_path(e["loc"]), e["msg"]) for e in exc.errors()]
        raise InvalidObjectError(ref, errors) from None


def to_document(obj: KosmosObject) -> dict[str, Any]:
    """The Kubernetes JSON form of an object (upstream field names, no nulls)."""
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)


def load_documents(text: str) -> list[KosmosObject]:
    """Parse a multi-document YAML (or JSON, or a ``kind: List``) into typed objects.

    All invalid objects are reported together, so a user fixes a file in one pass.
    """
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InvalidDocumentError(f"not valid YAML: {exc}") from None
    flat: list[Any] = []
    for document in documents:
        if isinstance(document, Mapping) and document.get("kind") == "List":
            flat.extend(document.get("items") or [])
        else:
            flat.append(document)
    objects: list[KosmosObject] = []
    failures: list[str] = []
    for index, document in enumerate(flat):
        try:
            objects.append(parse_object(document, position=f"document {index + 1}"))
        except InvalidObjectError as exc:
            failures.append(str(exc))
    if failures:
        raise InvalidDocumentError("\n".join(failures))
    return objects


def dump_documents(objects: Iterable[KosmosObject]) -> str:
    """Multi-document YAML of the objects, in the order given."""
    return yaml.safe_dump_all(
        [to_document(obj) for obj in objects], sort_keys=False, default_flow_style=False
    )
