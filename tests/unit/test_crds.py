"""The CRDs under ``deploy/crds/`` are the models' schemas in a form Kubernetes accepts.

Kubernetes validates what users and components write against these schemas, so they must
accept every object the models accept (upstream-shaped ones included) and reject what the
models reject; and they must be *structural*, or the API server refuses the CRD.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from jsonschema import Draft4Validator
from pydantic import BaseModel

from clusterlink.api import constants as c
from clusterlink.api.crds import (
    REGENERATE_COMMAND,
    UnsupportedSchemaError,
    build_crds,
    main,
    render_crd_files,
    structural_schema,
)
from clusterlink.api.errors import InvalidObjectError
from clusterlink.api.serialization import parse_object

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT / "deploy" / "crds"

Schema = dict[str, Any]

# Every keyword of Kubernetes' JSONSchemaProps; anything else is rejected or dropped by it.
KUBERNETES_SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "description",
        "default",
        "enum",
        "nullable",
        "required",
        "properties",
        "items",
        "additionalProperties",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)


def crd_of(plural: str) -> Schema:
    (crd,) = [crd for crd in build_crds() if crd["spec"]["names"]["plural"] == plural]
    return crd


def only_version(plural: str) -> Schema:
    versions: list[Schema] = crd_of(plural)["spec"]["versions"]
    (version,) = versions
    return version


def open_api_schema(plural: str) -> Schema:
    schema: Schema = only_version(plural)["schema"]["openAPIV3Schema"]
    return schema


def node_at(plural: str, *path: str) -> Schema:
    """The schema of a field: ``node_at("clusters", "spec", "namespace")``; ``[]`` is an item."""
    node = open_api_schema(plural)
    for step in path:
        node = node["items"] if step == "[]" else node["properties"][step]
    return node


def schema_nodes(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every node of a schema with its path, the root first."""
    yield path or "<root>", node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_nodes(node["additionalProperties"], f"{path}.*")


def all_schema_nodes() -> Iterator[tuple[str, Schema]]:
    for crd in build_crds():
        plural = crd["spec"]["names"]["plural"]
        for path, node in schema_nodes(open_api_schema(plural)):
            yield f"{plural}: {path}", node


def keys_anywhere(value: Any) -> Iterator[str]:
    """Every mapping key in a nested document."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from keys_anywhere(child)
    elif isinstance(value, list):
        for child in value:
            yield from keys_anywhere(child)


def printer_columns(plural: str) -> list[tuple[str, str, str]]:
    columns = only_version(plural).get("additionalPrinterColumns", [])
    return [(column["name"], column["jsonPath"], column["type"]) for column in columns]


# --- The checked-in manifests ----------------------------------------------------------------


@pytest.mark.parametrize("file_name", sorted(render_crd_files()))
def test_checked_in_manifest_is_what_the_models_generate(file_name: str) -> None:
    path = CRD_DIR / file_name
    regenerate = f"run `make crds` (or `{REGENERATE_COMMAND}`) from the repository root"
    assert path.exists(), f"deploy/crds/{file_name} is missing: {regenerate}"
    assert path.read_text(encoding="utf-8") == render_crd_files()[file_name], (
        f"deploy/crds/{file_name} drifted from src/clusterlink/api/models.py: {regenerate}"
    )


def test_deploy_crds_holds_no_manifest_the_models_no_longer_generate() -> None:
    stale = {path.name for path in CRD_DIR.glob("*.yaml")} - set(render_crd_files())
    assert not stale, f"remove the stale manifests {sorted(stale)} from deploy/crds/"


def test_the_regenerate_command_writes_one_manifest_per_crd(tmp_path: Path) -> None:
    assert main(["--write", str(tmp_path / "crds")]) == 0
    written = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.glob("crds/*")}
    assert written == render_crd_files()
    assert sorted(written) == [
        "kosmos.io_clusternodes.yaml",
        "kosmos.io_clusters.yaml",
        "kosmos.io_nodeconfigs.yaml",
    ]


def test_each_manifest_says_it_is_generated_and_how_to_regenerate_it() -> None:
    for file_name, text in render_crd_files().items():
        header = text.split("---", 1)[0]
        assert "do not edit" in header, file_name
        assert "make crds" in header, file_name


def test_checked_in_manifests_are_plain_yaml_kubectl_can_apply() -> None:
    for file_name, text in render_crd_files().items():
        assert yaml.safe_load(text) in build_crds(), file_name
        assert "&id" not in text, f"{file_name} uses YAML anchors"


# --- Names, scope, versions, subresources, printer columns ------------------------------------


@pytest.mark.parametrize(
    ("plural", "kind", "singular"),
    [
        ("clusters", "Cluster", "cluster"),
        ("clusternodes", "ClusterNode", "clusternode"),
        ("nodeconfigs", "NodeConfig", "nodeconfig"),
    ],
)
def test_each_kind_is_named_as_upstream_names_it(plural: str, kind: str, singular: str) -> None:
    crd = crd_of(plural)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.kosmos.io"
    assert crd["spec"]["group"] == "kosmos.io"
    assert crd["spec"]["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": singular,
    }


@pytest.mark.parametrize("plural", ["clusters", "clusternodes", "nodeconfigs"])
def test_each_kind_is_cluster_scoped_and_served_and_stored_as_v1alpha1(plural: str) -> None:
    assert crd_of(plural)["spec"]["scope"] == "Cluster"
    version = only_version(plural)
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


@pytest.mark.parametrize("plural", ["clusters", "clusternodes", "nodeconfigs"])
def test_status_is_a_subresource_of_every_kind(plural: str) -> None:
    # Upstream's Cluster has none, so its status writes race with spec writes.
    assert only_version(plural)["subresources"] == {"status": {}}


def test_kubectl_get_clusters_shows_network_type_and_ip_family_as_upstream() -> None:
    assert printer_columns("clusters") == [
        ("NETWORK_TYPE", ".spec.clusterLinkOptions.networkType", "string"),
        ("IP_FAMILY", ".spec.clusterLinkOptions.ipFamily", "string"),
        ("AGE", ".metadata.creationTimestamp", "date"),
    ]


def test_kubectl_get_clusternodes_shows_roles_interface_and_ip_as_upstream() -> None:
    assert printer_columns("clusternodes") == [
        ("ROLES", ".spec.roles", "string"),
        ("INTERFACE", ".spec.interfaceName", "string"),
        ("IP", ".spec.ip", "string"),
        ("AGE", ".metadata.creationTimestamp", "date"),
    ]


def test_kubectl_get_nodeconfigs_keeps_kubectls_default_columns() -> None:
    assert printer_columns("nodeconfigs") == []


# --- Structural schema ------------------------------------------------------------------------


def test_every_schema_node_has_a_type_unless_it_may_hold_anything() -> None:
    untyped = [
        path
        for path, node in all_schema_nodes()
        if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields")
    ]
    assert not untyped


@pytest.mark.parametrize("crd", build_crds(), ids=lambda crd: crd["metadata"]["name"])
def test_no_json_schema_construct_kubernetes_rejects_survives(crd: Schema) -> None:
    json_schema_only = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "prefixItems", "const"}
    assert not json_schema_only & set(keys_anywhere(crd))


def test_no_schema_node_uses_a_keyword_kubernetes_does_not_know() -> None:
    unknown = {
        path: sorted(set(node) - KUBERNETES_SCHEMA_KEYWORDS)
        for path, node in all_schema_nodes()
        if set(node) - KUBERNETES_SCHEMA_KEYWORDS
    }
    assert not unknown


def test_objects_are_either_structs_or_maps_never_both() -> None:
    both = [
        path
        for path, node in all_schema_nodes()
        if "properties" in node and "additionalProperties" in node
    ]
    assert not both


def test_only_maps_use_additional_properties_and_only_with_a_value_schema() -> None:
    boolean = [
        path
        for path, node in all_schema_nodes()
        if isinstance(node.get("additionalProperties"), bool)
    ]
    assert not boolean


def test_no_default_is_null() -> None:
    assert not [
        path for path, node in all_schema_nodes() if "default" in node and node["default"] is None
    ]


@pytest.mark.parametrize("plural", ["clusters", "clusternodes", "nodeconfigs"])
def test_metadata_apiversion_and_kind_are_left_to_the_api_server(plural: str) -> None:
    schema = open_api_schema(plural)
    assert schema["type"] == "object"
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert schema["properties"]["apiVersion"]["type"] == "string"
    assert schema["properties"]["kind"]["type"] == "string"
    assert "enum" not in schema["properties"]["kind"]
    assert "metadata" not in schema.get("required", [])


def test_an_optional_object_is_nullable_rather_than_a_union() -> None:
    options = node_at("clusters", "spec", "clusterLinkOptions")
    assert options["type"] == "object"
    assert options["nullable"] is True
    assert "networkType" in options["properties"]


def test_network_type_and_ip_family_are_closed_string_enums() -> None:
    assert node_at("clusters", "spec", "clusterLinkOptions", "networkType")["enum"] == [
        "p2p",
        "gateway",
    ]
    assert node_at("clusters", "spec", "clusterLinkOptions", "ipFamily")["enum"] == [
        "all",
        "ipv4",
        "ipv6",
    ]


def test_global_cidrs_map_is_a_map_of_strings() -> None:
    assert node_at("clusters", "spec", "clusterLinkOptions", "globalCIDRsMap") == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }


def test_cluster_tree_options_are_carried_through_untouched() -> None:
    tree = node_at("clusters", "spec", "clusterTreeOptions")
    assert tree["type"] == "object"
    assert tree["x-kubernetes-preserve-unknown-fields"] is True


def test_tunnel_cidrs_require_both_families() -> None:
    for field in ("localCIDRs", "bridgeCIDRs"):
        assert node_at("clusters", "spec", "clusterLinkOptions", field)["required"] == [
            "ip",
            "ip6",
        ]


def test_nic_overrides_require_interface_and_node_names() -> None:
    item = node_at("clusters", "spec", "clusterLinkOptions", "nicNodeNames", "[]")
    assert item["required"] == ["interfaceName", "nodeName"]


@pytest.mark.parametrize(
    ("field", "required"),
    [
        ("routes", ["cidr", "gw", "dev"]),
        ("iptables", ["table", "chain", "rule"]),
        ("fdbs", ["ip", "mac", "dev"]),
        ("arps", ["ip", "mac", "dev"]),
        # `type` may be left out: it defaults to the only device type, vxlan.
        ("devices", ["name", "addr", "mac", "bindDev", "id", "port"]),
    ],
)
def test_node_config_entries_require_every_field(field: str, required: list[str]) -> None:
    item = node_at("nodeconfigs", "spec", field, "[]")
    assert item["required"] == required
    assert set(item["properties"]) - set(required) <= {"type"}


def test_defaults_are_the_models_defaults_not_upstreams_public_ranges() -> None:
    options = node_at("clusters", "spec", "clusterLinkOptions")["properties"]
    assert options["networkType"]["default"] == "p2p"
    assert options["ipFamily"]["default"] == "all"
    assert options["enable"]["default"] is True
    assert options["cni"]["default"] == "calico"
    assert options["defaultNICName"]["default"] == "*"
    assert options["localCIDRs"]["default"] == {
        "ip": c.DEFAULT_LOCAL_CIDR_V4,
        "ip6": c.DEFAULT_LOCAL_CIDR_V6,
    }
    assert options["bridgeCIDRs"]["default"] == {
        "ip": c.DEFAULT_BRIDGE_CIDR_V4,
        "ip6": c.DEFAULT_BRIDGE_CIDR_V6,
    }
    assert node_at("clusters", "spec", "namespace")["default"] == "kosmos-system"
    assert node_at("nodeconfigs", "spec", "devices", "[]", "type")["default"] == "vxlan"


# --- The conversion, on constructs the API models do not use yet ------------------------------


class FixedPair(BaseModel):
    pair: tuple[int, int]


class MixedPair(BaseModel):
    pair: tuple[int, str]


class EitherType(BaseModel):
    value: int | str


class SingleValue(BaseModel):
    kind: Literal["Only"] = "Only"


class FreeForm(BaseModel):
    value: Any = None


class Tree(BaseModel):
    children: list[Tree] = []


def test_a_fixed_length_tuple_becomes_an_array_of_its_one_item_type() -> None:
    pair = structural_schema(FixedPair)["properties"]["pair"]
    assert pair == {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}


def test_a_single_value_literal_becomes_a_one_value_enum() -> None:
    assert structural_schema(SingleValue)["properties"]["kind"] == {
        "type": "string",
        "enum": ["Only"],
        "default": "Only",
    }


def test_a_value_of_any_type_preserves_whatever_it_holds() -> None:
    assert structural_schema(FreeForm)["properties"]["value"] == {
        "x-kubernetes-preserve-unknown-fields": True
    }


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (MixedPair, "tuple of mixed item types"),
        (EitherType, "union other than"),
        (Tree, "recursive reference"),
    ],
)
def test_what_a_structural_schema_cannot_express_is_refused_naming_the_field(
    model: type[BaseModel], reason: str
) -> None:
    with pytest.raises(UnsupportedSchemaError, match=reason) as raised:
        structural_schema(model)
    field = next(iter(model.model_fields))
    assert field in str(raised.value)


# --- Documents validated against the schemas ---------------------------------------------------


def rejecting_unknown_fields(node: Schema) -> Schema:
    """The schema as Kubernetes applies it: unknown fields are an error.

    Kubernetes rejects them under strict field validation (kubectl's default) and prunes them
    otherwise; JSON Schema allows them unless told.
    """
    closed = dict(node)
    if "properties" in node:
        closed["properties"] = {
            name: rejecting_unknown_fields(child) for name, child in node["properties"].items()
        }
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            closed["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        closed["items"] = rejecting_unknown_fields(node["items"])
    return closed


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    plural = {"Cluster": "clusters", "ClusterNode": "clusternodes", "NodeConfig": "nodeconfigs"}
    schema = rejecting_unknown_fields(open_api_schema(plural[document["kind"]]))
    return [error.message for error in Draft4Validator(schema).iter_errors(document)]


def load(text: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(text)
    return document


GATEWAY_CLUSTER = load(
    """
apiVersion: kosmos.io/v1alpha1
kind: Cluster
metadata:
  name: cluster-a
  annotations: {kosmos.io/cluster-role: root}
  finalizers: [kosmos.io/cluster-start-finalizer]
spec:
  kubeconfig: YXBpVmVyc2lvbjogdjEK
  namespace: kosmos-system
  imageRepository: ghcr.io/kosmos-io
  clusterLinkOptions:
    enable: true
    cni: calico
    networkType: gateway
    ipFamily: ipv4
    useIPPool: false
    localCIDRs: {ip: 210.0.0.0/8, ip6: 9480::/16}
    bridgeCIDRs: {ip: 220.0.0.0/8, ip6: 9470::/16}
    defaultNICName: eth0
    nicNodeNames:
    - interfaceName: eth1
      nodeName: [node1, node2]
    globalCIDRsMap: {10.233.0.0/16: 10.100.0.0/16}
    autodetectionMethod: can-reach=192.168.1.1
  clusterTreeOptions:
    enable: false
    leafModels: [{leafNodeName: leaf-a}]
status:
  clusterLinkStatus:
    podCIDRs: [10.233.0.0/16]
    serviceCIDRs: [10.96.0.0/16]
"""
)

# As upstream's deploy/cluster_yaml/member-cluster.yaml writes one.
UPSTREAM_P2P_MEMBER_CLUSTER = load(
    """
apiVersion: kosmos.io/v1alpha1
kind: Cluster
metadata: {name: member-cluster}
spec:
  imageRepository: ghcr.io/kosmos-io
  kubeconfig: YXBpVmVyc2lvbjogdjEK
  clusterLinkOptions:
    cni: calico
    defaultNICName: eth0
    ipFamily: all
    networkType: p2p
    bridgeCIDRs: {ip: 220.0.0.0/8, ip6: "9480::0/16"}
    localCIDRs: {ip: 210.0.0.0/8, ip6: "9470::0/16"}
    nicNodeNames:
    - interfaceName: eth1
      nodeName: [member-worker]
"""
)

MINIMAL_CLUSTER = load("{apiVersion: kosmos.io/v1alpha1, kind: Cluster, metadata: {name: c}}")

GATEWAY_CLUSTER_NODE = load(
    """
apiVersion: kosmos.io/v1alpha1
kind: ClusterNode
metadata:
  name: cluster-a-node1
  labels: {kosmos.io/cluster: cluster-a}
spec:
  clusterName: cluster-a
  nodeName: node1
  podCIDRs: [10.233.10.0/26]
  ip: 192.168.1.11
  ip6: fd00:1::11
  roles: [gateway]
  interfaceName: eth0
status:
  conditions:
  - {type: Valid, status: "False", reason: InvalidCIDR, message: "spec.podCIDRs[0]: bad"}
"""
)

# Appendix A of the upstream reference: golden GATEWAY, cluster-a-node1.
UPSTREAM_GATEWAY_NODE_CONFIG = load(
    """
apiVersion: kosmos.io/v1alpha1
kind: NodeConfig
metadata:
  name: cluster-a-node1
  annotations: {prev: "{}"}
spec:
  devices:
  - {type: vxlan, name: vx-local, addr: 210.168.1.11/8, mac: "aa:00:00:00:a1:14",
     bindDev: eth0, id: 55, port: 4877}
  - {type: vxlan, name: vx-bridge, addr: 220.168.1.11/8, mac: "aa:00:00:00:a1:b4",
     bindDev: eth0, id: 54, port: 4876}
  routes:
  - {cidr: 10.97.0.0/16, gw: 220.168.2.21, dev: vx-bridge}
  - {cidr: 10.234.0.0/16, gw: 220.168.2.21, dev: vx-bridge}
  iptables:
  - {table: nat, chain: POSTROUTING, rule: "-s 220.0.0.0/8 -j MASQUERADE"}
  - {table: nat, chain: POSTROUTING, rule: "-s 210.0.0.0/8 -o vx-bridge -j MASQUERADE"}
  fdbs:
  - {ip: 192.168.2.21, mac: "aa:00:00:00:b1:b4", dev: vx-bridge}
  - {ip: 192.168.2.21, mac: "00:00:00:00:00:00", dev: vx-bridge}
  - {ip: 192.168.1.12, mac: "aa:00:00:00:a2:14", dev: vx-local}
  - {ip: 192.168.1.12, mac: "00:00:00:00:00:00", dev: vx-local}
  arps:
  - {ip: 220.168.2.21, mac: "aa:00:00:00:b1:b4", dev: vx-bridge}
  - {ip: 210.168.1.12, mac: "aa:00:00:00:a2:14", dev: vx-local}
"""
)

# Appendix A: golden P2P, cluster-a-node1 (upstream omits empty lists such as iptables).
UPSTREAM_P2P_NODE_CONFIG = load(
    """
apiVersion: kosmos.io/v1alpha1
kind: NodeConfig
metadata: {name: cluster-a-node1}
spec:
  devices:
  - {type: vxlan, name: vx-bridge, addr: 220.168.1.11/8, mac: "aa:00:00:00:a1:b4",
     bindDev: eth0, id: 54, port: 4876}
  routes:
  - {cidr: 10.97.0.0/16, gw: 220.168.2.21, dev: vx-bridge}
  fdbs:
  - {ip: 192.168.2.22, mac: "aa:00:00:00:b2:b4", dev: vx-bridge}
  arps:
  - {ip: 220.168.2.22, mac: "aa:00:00:00:b2:b4", dev: vx-bridge}
status: {lastChangeTime: "2024-01-02T03:04:05Z", lastSyncTime: "2024-01-02T03:04:05Z"}
"""
)

VALID_DOCUMENTS = {
    "gateway cluster with CIDR mapping and status": GATEWAY_CLUSTER,
    "upstream sample p2p member cluster": UPSTREAM_P2P_MEMBER_CLUSTER,
    "cluster with nothing but a name": MINIMAL_CLUSTER,
    "gateway cluster node": GATEWAY_CLUSTER_NODE,
    "upstream golden gateway node config": UPSTREAM_GATEWAY_NODE_CONFIG,
    "upstream golden p2p node config": UPSTREAM_P2P_NODE_CONFIG,
}


def copy_and_locate(document: Mapping[str, Any], path: str) -> tuple[Schema, Schema, str]:
    """A deep copy of the document, the mapping in it that holds ``path``, and the field name.

    ``path`` is a field path as errors print it: ``spec.routes[0].table``.
    """
    copy: Schema = yaml.safe_load(yaml.safe_dump(dict(document)))
    *parents, name = path.split(".")
    parent: Any = copy
    for step in parents:
        field, _, index = step.partition("[")
        parent = parent[field][int(index.rstrip("]"))] if index else parent[field]
    return copy, parent, name


def changed(document: Mapping[str, Any], path: str, value: Any) -> Schema:
    copy, parent, name = copy_and_locate(document, path)
    parent[name] = value
    return copy


def without(document: Mapping[str, Any], path: str) -> Schema:
    copy, parent, name = copy_and_locate(document, path)
    del parent[name]
    return copy


INVALID_DOCUMENTS = {
    "unknown network type": changed(
        GATEWAY_CLUSTER, "spec.clusterLinkOptions.networkType", "vxlan"
    ),
    "unknown ip family": changed(GATEWAY_CLUSTER, "spec.clusterLinkOptions.ipFamily", "IPv4"),
    "tunnel CIDRs without ip6": without(GATEWAY_CLUSTER, "spec.clusterLinkOptions.localCIDRs.ip6"),
    "non-string value in globalCIDRsMap": changed(
        GATEWAY_CLUSTER, "spec.clusterLinkOptions.globalCIDRsMap", {"10.0.0.0/8": 8}
    ),
    "unknown field in cluster link options": changed(
        GATEWAY_CLUSTER, "spec.clusterLinkOptions.elasticIP", "1.2.3.4"
    ),
    "roles as a string": changed(GATEWAY_CLUSTER_NODE, "spec.roles", "gateway"),
    "unknown field in a route": changed(UPSTREAM_GATEWAY_NODE_CONFIG, "spec.routes[0].table", 200),
    "device without a mac": without(UPSTREAM_GATEWAY_NODE_CONFIG, "spec.devices[0].mac"),
    "device of another type": changed(UPSTREAM_GATEWAY_NODE_CONFIG, "spec.devices[0].type", "gre"),
    "iptables rule without a chain": without(
        UPSTREAM_GATEWAY_NODE_CONFIG, "spec.iptables[0].chain"
    ),
}


@pytest.mark.parametrize("document", VALID_DOCUMENTS.values(), ids=VALID_DOCUMENTS.keys())
def test_the_schema_accepts_what_the_models_accept(document: dict[str, Any]) -> None:
    parse_object(document)
    assert schema_errors(document) == []


@pytest.mark.parametrize("document", INVALID_DOCUMENTS.values(), ids=INVALID_DOCUMENTS.keys())
def test_the_schema_rejects_what_the_models_reject(document: dict[str, Any]) -> None:
    with pytest.raises(InvalidObjectError):
        parse_object(document)
    assert schema_errors(document) != []


def test_the_api_server_types_numbers_strictly_where_the_models_would_coerce() -> None:
    # pydantic's lax mode reads "55" as 55; Kubernetes refuses the write instead.
    vni_as_string = changed(UPSTREAM_GATEWAY_NODE_CONFIG, "spec.devices[0].id", "55")
    assert schema_errors(vni_as_string) == ["'55' is not of type 'integer'"]
