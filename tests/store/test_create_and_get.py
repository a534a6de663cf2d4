"""Creating and reading objects: identity, store-owned metadata, and rejected input."""

from __future__ import annotations

from typing import Any

import pytest

from clusterlink.store import AlreadyExistsError, InvalidError, NotFoundError, ObjectStore

from .builders import cluster, config_map, lease


def test_create_sets_uid_timestamp_generation_and_resource_version(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a"))

    metadata = created["metadata"]
    assert metadata["uid"]
    assert metadata["creationTimestamp"].endswith("Z")
    assert metadata["generation"] == 1
    assert metadata["resourceVersion"]
    assert store.get("Cluster", "cluster-a") == created


def test_create_ignores_store_owned_metadata_sent_by_the_client(store: ObjectStore) -> None:
    sent = cluster("cluster-a")
    sent["metadata"].update(uid="mine", generation=7, creationTimestamp="2000-01-01T00:00:00Z")

    created = store.create(sent)

    assert created["metadata"]["uid"] != "mine"
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["creationTimestamp"] != "2000-01-01T00:00:00Z"


def test_creating_an_existing_object_fails_with_already_exists(store: ObjectStore) -> None:
    store.create(cluster("cluster-a"))

    with pytest.raises(AlreadyExistsError) as raised:
        store.create(cluster("cluster-a"))

    assert (raised.value.code, raised.value.reason) == (409, "AlreadyExists")
    assert (raised.value.kind, raised.value.name) == ("Cluster", "cluster-a")
    assert "cluster-a" in str(raised.value)


def test_getting_a_missing_object_fails_with_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFoundError) as raised:
        store.get("NodeConfig", "cluster-a-node1")

    assert (raised.value.code, raised.value.kind, raised.value.name) == (
        404,
        "NodeConfig",
        "cluster-a-node1",
    )


def test_a_recreated_object_gets_a_new_uid(store: ObjectStore) -> None:
    first = store.create(cluster("cluster-a"))
    store.delete("Cluster", "cluster-a")

    second = store.create(cluster("cluster-a"))

    assert second["metadata"]["uid"] != first["metadata"]["uid"]


def test_namespaced_kinds_are_keyed_by_namespace(store: ObjectStore) -> None:
    store.create(config_map("settings", {"a": "1"}, namespace="one"))
    store.create(config_map("settings", {"a": "2"}, namespace="two"))

    assert store.get("ConfigMap", "settings", "one")["data"] == {"a": "1"}
    assert store.get("ConfigMap", "settings", "two")["data"] == {"a": "2"}


def test_the_core_kinds_are_held(store: ObjectStore) -> None:
    store.create(lease("elector", "node1"))
    store.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}}
    )
    store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}})

    assert store.get("Lease", "elector", "kosmos-system")["spec"]["holderIdentity"] == "node1"
    assert store.get("Secret", "s", "n")["kind"] == "Secret"
    assert store.get("Pod", "p", "n")["kind"] == "Pod"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o["metadata"].update(name="Not_A_Name"), "metadata.name"),
        (lambda o: o["metadata"].update(labels={"bad key!": "x"}), "metadata.labels"),
        (lambda o: o["metadata"].update(labels={"ok": "bad value!"}), "metadata.labels"),
        (lambda o: o["metadata"].update(namespace="ns"), "metadata.namespace"),
        (lambda o: o["metadata"].update(resourceVersion="5"), "metadata.resourceVersion"),
        (lambda o: o.update(apiVersion="v1"), "apiVersion"),
    ],
    ids=["name", "label-key", "label-value", "namespace", "resource-version", "api-version"],
)
def test_invalid_objects_are_rejected_naming_the_field(
    store: ObjectStore, change: object, field: str
) -> None:
    sent = cluster("cluster-a")
    change(sent)  # type: ignore[operator]

    with pytest.raises(InvalidError) as raised:
        store.create(sent)

    assert raised.value.code == 422
    assert field in str(raised.value)


def test_a_namespaced_kind_without_namespace_is_rejected(store: ObjectStore) -> None:
    sent = lease("elector", "node1")
    del sent["metadata"]["namespace"]

    with pytest.raises(InvalidError, match=r"metadata\.namespace"):
        store.create(sent)


def test_unknown_kinds_are_rejected_listing_the_known_ones(store: ObjectStore) -> None:
    with pytest.raises(InvalidError, match="NodeConfig"):
        store.create({"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "g"}})


def test_create_many_creates_each_object_in_order(store: ObjectStore) -> None:
    stored = store.create_many([config_map("first", {}), cluster("cluster-a")])

    assert [o["metadata"]["name"] for o in stored] == ["first", "cluster-a"]
    assert all(o["metadata"]["uid"] and o["metadata"]["generation"] == 1 for o in stored)
    versions = [int(o["metadata"]["resourceVersion"]) for o in stored]
    assert versions == sorted(set(versions))
    assert store.get("ConfigMap", "first", "kosmos-system") == stored[0]
    assert store.get("Cluster", "cluster-a") == stored[1]


def test_create_many_of_nothing_creates_nothing(store: ObjectStore) -> None:
    revision = store.list("ConfigMap").resource_version

    assert store.create_many([]) == ()
    assert store.list("ConfigMap").resource_version == revision


def test_create_many_fails_on_an_existing_object(store: ObjectStore) -> None:
    store.create(config_map("taken", {}))

    with pytest.raises(AlreadyExistsError) as raised:
        store.create_many([config_map("taken", {"new": "yes"})])

    assert (raised.value.kind, raised.value.name) == ("ConfigMap", "taken")
    assert store.get("ConfigMap", "taken", "kosmos-system")["data"] == {}


def _stamped(name: str) -> dict[str, Any]:
    """A ConfigMap that carries a resourceVersion, which no object to create may."""
    document = config_map(name, {})
    document["metadata"]["resourceVersion"] = "7"
    return document


@pytest.mark.kube_differs("the API creates objects one request each")
@pytest.mark.parametrize(
    "bad", [config_map("taken", {}), _stamped("stamped")], ids=["exists", "invalid"]
)
def test_create_many_creates_none_when_one_fails(store: ObjectStore, bad: dict[str, Any]) -> None:
    store.create(config_map("taken", {}))

    with pytest.raises((AlreadyExistsError, InvalidError)):
        store.create_many([config_map("before", {}), bad, config_map("after", {})])

    assert [o["metadata"]["name"] for o in store.list("ConfigMap").items] == ["taken"]
