"""Deletion, and finalizers delaying it until their owners have cleaned up."""

from __future__ import annotations

import pytest

from clusterlink.store import ConflictError, InvalidError, NotFoundError, ObjectStore

from .builders import WAIT_SECONDS, cluster, summary, take

FINALIZER = "kosmos.io/cluster-start-finalizer"


def test_deleting_removes_the_object(store: ObjectStore) -> None:
    store.create(cluster("cluster-a"))

    assert store.delete("Cluster", "cluster-a") is None
    with pytest.raises(NotFoundError):
        store.get("Cluster", "cluster-a")


def test_deleting_a_missing_object_fails_with_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFoundError):
        store.delete("Cluster", "cluster-a")


def test_a_delete_with_a_stale_resource_version_conflicts(store: ObjectStore) -> None:
    stale = store.create(cluster("cluster-a"))
    store.update({**stale, "spec": {"kubeconfig": "x"}})

    with pytest.raises(ConflictError):
        store.delete("Cluster", "cluster-a", resource_version=stale["metadata"]["resourceVersion"])
    assert store.get("Cluster", "cluster-a")


def test_an_object_with_finalizers_is_marked_and_kept(store: ObjectStore) -> None:
    sent = cluster("cluster-a")
    sent["metadata"]["finalizers"] = [FINALIZER]
    store.create(sent)

    marked = store.delete("Cluster", "cluster-a")

    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"]
    assert store.get("Cluster", "cluster-a") == marked


def test_deleting_an_object_already_being_deleted_changes_nothing(store: ObjectStore) -> None:
    sent = cluster("cluster-a")
    sent["metadata"]["finalizers"] = [FINALIZER]
    store.create(sent)
    marked = store.delete("Cluster", "cluster-a")

    assert store.delete("Cluster", "cluster-a") == marked


def test_removing_the_last_finalizer_removes_the_object(store: ObjectStore) -> None:
    sent = cluster("cluster-a")
    sent["metadata"]["finalizers"] = [FINALIZER, "other"]
    created = store.create(sent)
    with store.watch(
        "Cluster",
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=WAIT_SECONDS,
    ) as watch:
        marked = store.delete("Cluster", "cluster-a")
        assert marked is not None
        one_left = store.update(
            {**marked, "metadata": {**marked["metadata"], "finalizers": ["other"]}}
        )
        store.update({**one_left, "metadata": {**one_left["metadata"], "finalizers": []}})

        events = take(watch, 3)

    assert summary(events) == [
        ("MODIFIED", "cluster-a"),
        ("MODIFIED", "cluster-a"),
        ("DELETED", "cluster-a"),
    ]
    with pytest.raises(NotFoundError):
        store.get("Cluster", "cluster-a")


def test_no_finalizer_can_be_added_while_deleting(store: ObjectStore) -> None:
    sent = cluster("cluster-a")
    sent["metadata"]["finalizers"] = [FINALIZER]
    store.create(sent)
    marked = store.delete("Cluster", "cluster-a")
    assert marked is not None

    with pytest.raises(InvalidError, match="finalizers"):
        store.update(
            {**marked, "metadata": {**marked["metadata"], "finalizers": [FINALIZER, "late"]}}
        )
