"""Kubernetes CustomResourceDefinitions of ``kosmos.io/v1alpha1``, derived from the models.

The models in :mod:`clusterlink.api.models` are the one description of the API: a
hand-written CRD schema would drift from them. Here pydantic's JSON Schema of each model is
turned into the *structural* OpenAPI v3 schema Kubernetes requires: every node typed, no
``$ref``, ``anyOf``, ``const``, ``prefixItems`` or ``title``, ``additionalProperties`` only
for maps, ``metadata`` left to the API server. A construct Kubernetes cannot express raises
:class:`UnsupportedSchemaError` rather than being dropped silently.

The manifests are checked in under ``deploy/crds/`` (``make crds`` regenerates them) and
``tests/unit/test_crds.py`` fails when they drift. Only :func:`write_crd_files` and
:func:`main` perform I/O.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel

from clusterlink.api import constants as c
from clusterlink.api.models import Cluster, ClusterNode, NodeConfig

Schema = dict[str, Any]
ConvertChild = Callable[[Mapping[str, Any], str], Schema]

REGENERATE_COMMAND: Final = "python -m clusterlink.api.crds --write deploy/crds"

_FILE_HEADER: Final = (
    "# Generated from src/clusterlink/api/models.py by clusterlink.api.crds: do not edit.\n"
    f"# Regenerate with `make crds` (or `{REGENERATE_COMMAND}`).\n"
)

# Keywords Kubernetes reads exactly as JSON Schema does, so they are copied unchanged.
_PASSTHROUGH_KEYWORDS: Final = frozenset(
    {
        "type",
        "format",
        "description",
        "enum",
        "nullable",
        "required",
        "minimum",
        "maximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    }
)

_PRESERVE_UNKNOWN_FIELDS: Final = "x-kubernetes-preserve-unknown-fields"


class UnsupportedSchemaError(ValueError):
    """A model uses a JSON Schema construct that a structural schema cannot express."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '<root>'}: {reason}")


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """A column of ``kubectl get``."""

    name: str
    json_path: str
    type: str = "string"

    def as_manifest(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "jsonPath": self.json_path}


@dataclass(frozen=True, slots=True)
class Resource:
    """One kind of the API and how ``kubectl`` names and prints it."""

    model: type[BaseModel]
    plural: str
    printer_columns: tuple[PrinterColumn, ...] = ()

    @property
    def kind(self) -> str:
        return self.model.__name__

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{c.GROUP}"


# Naming printer columns drops kubectl's implicit AGE column, so it is listed again.
AGE_COLUMN: Final = PrinterColumn("AGE", ".metadata.creationTimestamp", "date")

RESOURCES: Final = (
    Resource(
        Cluster,
        "clusters",
        (
            PrinterColumn("NETWORK_TYPE", ".spec.clusterLinkOptions.networkType"),
            PrinterColumn("IP_FAMILY", ".spec.clusterLinkOptions.ipFamily"),
            AGE_COLUMN,
        ),
    ),
    Resource(
        ClusterNode,
        "clusternodes",
        (
            PrinterColumn("ROLES", ".spec.roles"),
            PrinterColumn("INTERFACE", ".spec.interfaceName"),
            PrinterColumn("IP", ".spec.ip"),
            AGE_COLUMN,
        ),
    ),
    Resource(NodeConfig, "nodeconfigs"),
)


# --- JSON Schema -> structural schema --------------------------------------------------------


def structural_schema(model: type[BaseModel]) -> Schema:
    """The model's input schema (Kubernetes JSON names) as a structural OpenAPI v3 schema."""
    json_schema = model.model_json_schema(by_alias=True, mode="validation")
    definitions = json_schema.get("$defs", {})
    return _structural_node(_without(json_schema, "$defs"), definitions, "", frozenset())


def _structural_node(
    node: Mapping[str, Any],
    definitions: Mapping[str, Any],
    path: str,
    expanding: frozenset[str],
) -> Schema:
    flat, expanding = _inline_references(node, definitions, path, expanding)

    def convert_child(child: Mapping[str, Any], child_path: str) -> Schema:
        return _structural_node(child, definitions, child_path, expanding)

    result: Schema = {}
    for keyword, value in flat.items():
        result.update(_convert_keyword(keyword, value, path, convert_child))
    _require_struct_or_map(result, path)
    return _with_type(result, path)


def _inline_references(
    node: Mapping[str, Any],
    definitions: Mapping[str, Any],
    path: str,
    expanding: frozenset[str],
) -> tuple[Schema, frozenset[str]]:
    """The node with ``$ref`` replaced by its definition and ``anyOf [X, null]`` by ``X``.

    A field's own keywords win over its type's: its default or description is the more
    specific one. ``expanding`` holds the references being inlined, to detect recursion.
    """
    if "$ref" in node:
        reference = node["$ref"]
        if reference in expanding:
            raise UnsupportedSchemaError(path, f"recursive reference {reference}")
        target, expanding = _inline_references(
            _definition(reference, definitions, path), definitions, path, expanding | {reference}
        )
        return {**target, **_without(node, "$ref")}, expanding
    if "anyOf" in node:
        target, expanding = _inline_references(
            _only_non_null_branch(node["anyOf"], path), definitions, path, expanding
        )
        return {**target, **_without(node, "anyOf"), "nullable": True}, expanding
    return dict(node), expanding


def _definition(reference: str, definitions: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    prefix = "#/$defs/"
    name = reference.removeprefix(prefix)
    if not reference.startswith(prefix) or name not in definitions:
        raise UnsupportedSchemaError(path, f"unresolvable reference {reference}")
    definition: Mapping[str, Any] = definitions[name]
    return definition


def _only_non_null_branch(branches: Sequence[Mapping[str, Any]], path: str) -> Mapping[str, Any]:
    """``X`` of ``anyOf [X, null]``: the only union a structural schema can express."""
    non_null = [branch for branch in branches if branch != {"type": "null"}]
    if len(branches) != 2 or len(non_null) != 1:
        raise UnsupportedSchemaError(path, "a union other than `X | None` is not structural")
    return non_null[0]


def _without(node: Mapping[str, Any], keyword: str) -> Schema:
    return {key: value for key, value in node.items() if key != keyword}


def _convert_keyword(keyword: str, value: Any, path: str, convert_child: ConvertChild) -> Schema:
    """The structural-schema keywords that stand for one JSON Schema keyword."""
    match keyword:
        case "title":
            return {}
        case "default":
            # A null default is no default: Kubernetes reads it as absent.
            return {} if value is None else {"default": copy.deepcopy(value)}
        case "const":
            return {"enum": [copy.deepcopy(value)]}
        case "properties":
            return {
                "properties": {
                    name: convert_child(child, _join(path, name)) for name, child in value.items()
                }
            }
        case "items":
            return {"items": convert_child(value, f"{path}[]")}
        case "prefixItems":
            items = [convert_child(child, f"{path}[{i}]") for i, child in enumerate(value)]
            return {"items": _common_item_schema(items, path)}
        case "additionalProperties":
            return _map_values(value, path, convert_child)
        case _ if keyword in _PASSTHROUGH_KEYWORDS:
            # Copied: definitions inlined twice must not share lists (YAML would alias them).
            return {keyword: copy.deepcopy(value)}
        case _:
            raise UnsupportedSchemaError(path, f"no structural equivalent for {keyword!r}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _common_item_schema(items: Sequence[Schema], path: str) -> Schema:
    """The one item schema of a fixed-length tuple; Kubernetes arrays are homogeneous."""
    if not items or any(item != items[0] for item in items):
        raise UnsupportedSchemaError(path, "a tuple of mixed item types is not structural")
    return items[0]


def _map_values(value: bool | Mapping[str, Any], path: str, convert_child: ConvertChild) -> Schema:
    """``additionalProperties`` as Kubernetes wants it.

    ``false`` (a closed model) is Kubernetes' behaviour anyway, which prunes or rejects
    unknown fields, and it forbids writing it; ``true`` (a free-form object) must be said
    with ``x-kubernetes-preserve-unknown-fields``; a schema describes a map's values.
    """
    if value is False:
        return {}
    if value is True:
        return {_PRESERVE_UNKNOWN_FIELDS: True}
    return {"additionalProperties": convert_child(value, f"{path}.*")}


def _require_struct_or_map(node: Schema, path: str) -> None:
    if "properties" in node and "additionalProperties" in node:
        raise UnsupportedSchemaError(path, "an object with fields cannot also be a map")


def _with_type(node: Schema, path: str) -> Schema:
    """Every node of a structural schema has a type, unless it may hold any value."""
    if "type" in node or node.get(_PRESERVE_UNKNOWN_FIELDS):
        return node
    if "enum" in node:
        return {**node, "type": _enum_type(node["enum"], path)}
    return {**node, _PRESERVE_UNKNOWN_FIELDS: True}


def _enum_type(values: Sequence[Any], path: str) -> str:
    types = {_json_type(value, path) for value in values}
    if len(types) != 1:
        raise UnsupportedSchemaError(path, f"an enum of mixed types is not structural: {values}")
    return types.pop()


# bool before int: True is an int in Python but not in JSON.
_JSON_TYPES: Final = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any, path: str) -> str:
    for python_type, json_type in _JSON_TYPES:
        if isinstance(value, python_type):
            return json_type
    raise UnsupportedSchemaError(path, f"an enum value without a JSON type: {value!r}")


# --- CustomResourceDefinitions ---------------------------------------------------------------


def resource_schema(model: type[BaseModel]) -> Schema:
    """The ``openAPIV3Schema`` of a kind.

    ``apiVersion``, ``kind`` and ``metadata`` belong to the API server: Kubernetes allows
    nothing but a type on ``metadata``, and the other two are set from the request URL.
    """
    schema = structural_schema(model)
    server_owned = _server_owned_properties()
    root: Schema = {
        **_without(schema, "required"),
        "properties": {**schema["properties"], **server_owned},
    }
    required = [name for name in schema.get("required", []) if name not in server_owned]
    return {**root, "required": required} if required else root


def _server_owned_properties() -> dict[str, Schema]:
    return {
        "apiVersion": {
            "type": "string",
            "description": (
                "APIVersion defines the versioned schema of this representation of an object."
            ),
        },
        "kind": {
            "type": "string",
            "description": "Kind is the REST resource this object represents.",
        },
        "metadata": {"type": "object"},
    }


def build_crd(resource: Resource) -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of one kind."""
    version: dict[str, Any] = {
        "name": c.VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": resource_schema(resource.model)},
        "subresources": {"status": {}},
    }
    if resource.printer_columns:
        version["additionalPrinterColumns"] = [
            column.as_manifest() for column in resource.printer_columns
        ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.crd_name},
        "spec": {
            "group": c.GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
            },
            "scope": "Cluster",
            "versions": [version],
        },
    }


def build_crds() -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of ``Cluster``, ``ClusterNode`` and ``NodeConfig``."""
    return [build_crd(resource) for resource in RESOURCES]


# --- Manifest files --------------------------------------------------------------------------


def crd_file_name(crd: Mapping[str, Any]) -> str:
    """``kosmos.io_clusters.yaml``: upstream's file names."""
    spec = crd["spec"]
    return f"{spec['group']}_{spec['names']['plural']}.yaml"


def render_crd(crd: Mapping[str, Any]) -> str:
    """The manifest text of one CRD; keys sorted, so the text changes only with the schema."""
    body = yaml.safe_dump(dict(crd), sort_keys=True, default_flow_style=False, explicit_start=True)
    return _FILE_HEADER + body


def render_crd_files() -> dict[str, str]:
    """File name -> manifest text of every CRD, as checked in under ``deploy/crds/``."""
    return {crd_file_name(crd): render_crd(crd) for crd in build_crds()}


def write_crd_files(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_crd_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m clusterlink.api.crds [--write DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m clusterlink.api.crds",
        description="Print the kosmos.io CRDs, or write one manifest per CRD into a directory.",
    )
    parser.add_argument("--write", metavar="DIR", type=Path, help="write the manifests into DIR")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write("".join(render_crd_files().values()))
    else:
        for path in write_crd_files(args.write):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
