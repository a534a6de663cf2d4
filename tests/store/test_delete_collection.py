"""Deleting a collection: every matching object of a kind in a namespace, in one request."""

from __future__ import annotations

from typing import Any

import pytest

from clusterlink.store import BadRequestError, InvalidError, NotFoundError, ObjectStore

from .builders import WAIT_SECONDS, cluster, config_map, summary, take

FINALIZER = "kosmos.io/cluster-start-finalizer"


def _labelled(name: str, labels: dict[str, str], namespace: str = "kosmos-system") -> Any:
    document = config_map(name, {"k": name}, namespace)
    document["metadata"]["labels"] = labels
    return document


def _names(store: ObjectStore, kind: str, namespace: str | None = None) -> list[str]:
    return [o["metadata"]["name"] for o in store.list(kind, namespace=namespace).items]


def test_only_matching_objects_of_the_kind_and_namespace_go(store: ObjectStore) -> None:
    store.create(_labelled("run1-a", {"run": "1"}))
    store.create(_labelled("run1-b", {"run": "1"}))
    store.create(_labelled("run2-a", {"run": "2"}))
    store.create(_labelled("unlabelled", {}))
    store.create(_labelled("run1-elsewhere", {"run": "1"}, namespace="other"))
    store.create(cluster("run1-cluster", labels={"run": "1"}))

    count = store.delete_collection("ConfigMap", "kosmos-system", label_selector="run=1")

    assert count == 2
    assert _names(store, "ConfigMap", "kosmos-system") == ["run2-a", "unlabelled"]
    assert _names(store, "ConfigMap", "other") == ["run1-elsewhere"]
    assert _names(store, "Cluster") == ["run1-cluster"]


def test_a_set_selector_picks_several_values(store: ObjectStore) -> None:
    for run in ("1", "2", "3"):
        store.create(_labelled(f"run{run}", {"run": run}))

    count = store.delete_collection("ConfigMap", "kosmos-system", label_selector="run in (1,3)")

    assert count == 2
    assert _names(store, "ConfigMap", "kosmos-system") == ["run2"]


def test_no_selector_deletes_the_whole_collection(store: ObjectStore) -> None:
    store.create(cluster("cluster-a"))
    store.create(cluster("cluster-b", labels={"x": "y"}))

    assert store.delete_collection("Cluster") == 2
    assert _names(store, "Cluster") == []


def test_nothing_matching_deletes_nothing(store: ObjectStore) -> None:
    store.create(_labelled("run2-a", {"run": "2"}))
    revision = store.list("ConfigMap").resource_version

    assert store.delete_collection("ConfigMap", "kosmos-system", label_selector="run=1") == 0
    assert store.delete_collection("ConfigMap", "empty", label_selector="run=1") == 0
    assert _names(store, "ConfigMap") == ["run2-a"]
    assert store.list("ConfigMap").resource_version == revision


def test_watchers_see_one_deletion_per_object(store: ObjectStore) -> None:
    store.create(_labelled("run1-a", {"run": "1"}))
    store.create(_labelled("run2-a", {"run": "2"}))
    last = store.create(_labelled("run1-b", {"run": "1"}))
    with (
        store.watch(
            "ConfigMap",
            namespace="kosmos-system",
            resource_version=last["metadata"]["resourceVersion"],
            timeout_seconds=WAIT_SECONDS,
        ) as everything,
        store.watch(
            "ConfigMap",
            label_selector="run=1",
            resource_version=last["metadata"]["resourceVersion"],
            timeout_seconds=WAIT_SECONDS,
        ) as selected,
    ):
        store.delete_collection("ConfigMap", "kosmos-system", label_selector="run=1")
        store.create(_labelled("after", {"run": "2"}))

        seen = take(everything, 3)
        seen_selected = take(selected, 2)

    assert summary(seen) == [
        ("DELETED", "run1-a"),
        ("DELETED", "run1-b"),
        ("ADDED", "after"),
    ]
    assert summary(seen_selected) == [("DELETED", "run1-a"), ("DELETED", "run1-b")]
    revisions = [int(e.object["metadata"]["resourceVersion"]) for e in seen[:2]]
    assert revisions[1] == revisions[0] + 1
    assert all(e.object["metadata"]["labels"] == {"run": "1"} for e in seen[:2])


def test_objects_with_finalizers_are_marked_not_removed(store: ObjectStore) -> None:
    held = cluster("cluster-held", labels={"run": "1"})
    held["metadata"]["finalizers"] = [FINALIZER]
    store.create(held)
    last = store.create(cluster("cluster-free", labels={"run": "1"}))
    with store.watch(
        "Cluster",
        resource_version=last["metadata"]["resourceVersion"],
        timeout_seconds=WAIT_SECONDS,
    ) as watch:
        count = store.delete_collection("Cluster", label_selector="run=1")
        events = take(watch, 2)

    assert count == 2
    assert summary(events) == [("DELETED", "cluster-free"), ("MODIFIED", "cluster-held")]
    marked = store.get("Cluster", "cluster-held")
    assert marked["metadata"]["deletionTimestamp"]
    with pytest.raises(NotFoundError):
        store.get("Cluster", "cluster-free")
    # Deleting again changes nothing, but the object still counts, as Kubernetes lists it.
    assert store.delete_collection("Cluster", label_selector="run=1") == 1
    assert store.get("Cluster", "cluster-held") == marked


def test_a_malformed_selector_is_a_bad_request(store: ObjectStore) -> None:
    store.create(_labelled("run1-a", {"run": "1"}))

    with pytest.raises(BadRequestError):
        store.delete_collection("ConfigMap", "kosmos-system", label_selector="run in (1")
    assert _names(store, "ConfigMap") == ["run1-a"]


def test_the_namespace_must_fit_the_kind(store: ObjectStore) -> None:
    with pytest.raises(InvalidError):
        store.delete_collection("ConfigMap", "", label_selector="run=1")
    with pytest.raises(InvalidError):
        store.delete_collection("Cluster", "kosmos-system")
