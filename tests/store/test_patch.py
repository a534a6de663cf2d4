"""JSON merge patches applied by the store, atomically and under the update rules."""

from __future__ import annotations

import pytest

from clusterlink.store import ConflictError, InvalidError, NotFoundError, ObjectStore

from .builders import cluster


def test_a_merge_patch_merges_maps_removes_nulls_and_replaces_lists(store: ObjectStore) -> None:
    store.create(
        cluster("cluster-a", labels={"keep": "1", "drop": "1"}, spec={"podCIDRs": ["a"], "x": 1})
    )

    patched = store.patch(
        "Cluster",
        "cluster-a",
        {"metadata": {"labels": {"drop": None, "new": "1"}}, "spec": {"podCIDRs": ["b"]}},
    )

    assert patched["metadata"]["labels"] == {"keep": "1", "new": "1"}
    assert patched["spec"] == {"podCIDRs": ["b"], "x": 1}
    assert patched["metadata"]["generation"] == 2


def test_a_resource_version_in_a_patch_is_a_precondition(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a"))
    store.patch("Cluster", "cluster-a", {"spec": {"kubeconfig": "new"}})

    with pytest.raises(ConflictError):
        store.patch(
            "Cluster",
            "cluster-a",
            {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {}},
        )


def test_a_patch_cannot_rename_an_object(store: ObjectStore) -> None:
    store.create(cluster("cluster-a"))

    with pytest.raises(InvalidError, match=r"metadata\.name"):
        store.patch("Cluster", "cluster-a", {"metadata": {"name": "cluster-b"}})


def test_a_patch_producing_an_invalid_object_is_rejected(store: ObjectStore) -> None:
    store.create(cluster("cluster-a"))

    with pytest.raises(InvalidError, match=r"metadata\.labels"):
        store.patch("Cluster", "cluster-a", {"metadata": {"labels": {"a": "not valid!"}}})
    assert store.get("Cluster", "cluster-a")["metadata"]["labels"] == {}


def test_patching_a_missing_object_fails_with_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFoundError):
        store.patch("Cluster", "cluster-a", {"spec": {}})
