"""Updates: optimistic concurrency, generation, and writes that change nothing."""

from __future__ import annotations

import pytest

from clusterlink.store import ConflictError, NotFoundError, ObjectStore

from .builders import cluster, lease


def test_an_update_with_the_current_resource_version_succeeds(store: ObjectStore) -> None:
    current = store.create(cluster("cluster-a"))
    current["spec"] = {"clusterLinkOptions": {"networkType": "gateway"}}

    written = store.update(current)

    assert written["spec"]["clusterLinkOptions"]["networkType"] == "gateway"
    assert written["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]
    assert store.get("Cluster", "cluster-a") == written


def test_an_update_with_a_stale_resource_version_conflicts(store: ObjectStore) -> None:
    stale = store.create(cluster("cluster-a"))
    store.update({**stale, "spec": {"kubeconfig": "first"}})

    with pytest.raises(ConflictError) as raised:
        store.update({**stale, "spec": {"kubeconfig": "second"}})

    assert (raised.value.code, raised.value.reason, raised.value.name) == (
        409,
        "Conflict",
        "cluster-a",
    )
    assert store.get("Cluster", "cluster-a")["spec"] == {"kubeconfig": "first"}


def test_an_update_without_resource_version_is_unconditional(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a"))
    store.update({**created, "spec": {"kubeconfig": "first"}})
    blind = cluster("cluster-a", spec={"kubeconfig": "second"})

    assert store.update(blind)["spec"] == {"kubeconfig": "second"}


def test_updating_a_missing_object_fails_with_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFoundError):
        store.update(cluster("cluster-a"))


def test_generation_moves_on_spec_changes_only(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a"))

    relabelled = store.update(
        {**created, "metadata": {**created["metadata"], "labels": {"a": "b"}}}
    )
    respecified = store.update({**relabelled, "spec": {"kubeconfig": "x"}})

    assert relabelled["metadata"]["generation"] == 1
    assert respecified["metadata"]["generation"] == 2


def test_an_update_that_changes_nothing_keeps_the_resource_version(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a"))

    again = store.update(created)

    assert again == created


@pytest.mark.kube_differs(
    "core kinds such as Lease carry no metadata.generation on a real API server"
)
def test_store_owned_metadata_cannot_be_changed_by_an_update(store: ObjectStore) -> None:
    created = store.create(lease("elector", "node1"))
    tampered = {**created, "metadata": {**created["metadata"], "uid": "x", "generation": 99}}

    written = store.update(tampered)

    assert written["metadata"]["uid"] == created["metadata"]["uid"]
    assert written["metadata"]["generation"] == created["metadata"]["generation"]
