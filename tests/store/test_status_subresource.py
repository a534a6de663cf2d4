"""The status subresource: status and spec have separate writers that cannot clobber each other."""

from __future__ import annotations

import pytest

from clusterlink.store import ConflictError, InvalidError, ObjectStore

from .builders import cluster, lease, node


def test_create_drops_status_of_kinds_with_a_status_subresource(store: ObjectStore) -> None:
    sent = {**cluster("cluster-a"), "status": {"clusterLinkStatus": {"podCIDRs": ["10.0.0.0/16"]}}}

    assert "status" not in store.create(sent)


def test_create_keeps_the_status_of_nodes(store: ObjectStore) -> None:
    created = store.create(node("node1", "192.168.0.1"))

    assert created["status"]["addresses"][0]["address"] == "192.168.0.1"


def test_update_status_writes_only_the_status(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a", spec={"kubeconfig": "old"}))
    sent = {**created, "spec": {"kubeconfig": "ignored"}, "status": {"conditions": []}}

    written = store.update_status(sent)

    assert written["status"] == {"conditions": []}
    assert written["spec"] == {"kubeconfig": "old"}
    assert written["metadata"]["generation"] == 1


def test_a_normal_update_keeps_the_stored_status(store: ObjectStore) -> None:
    created = store.create(cluster("cluster-a"))
    with_status = store.update_status({**created, "status": {"conditions": [{"type": "Ready"}]}})

    written = store.update({**with_status, "spec": {"kubeconfig": "x"}, "status": {}})

    assert written["status"] == {"conditions": [{"type": "Ready"}]}
    assert written["spec"] == {"kubeconfig": "x"}


def test_a_status_update_with_a_stale_resource_version_conflicts(store: ObjectStore) -> None:
    stale = store.create(cluster("cluster-a"))
    store.update({**stale, "spec": {"kubeconfig": "x"}})

    with pytest.raises(ConflictError):
        store.update_status({**stale, "status": {"conditions": []}})


def test_a_main_resource_patch_ignores_status_and_a_status_patch_ignores_spec(
    store: ObjectStore,
) -> None:
    store.create(cluster("cluster-a", spec={"kubeconfig": "old"}))

    main = store.patch("Cluster", "cluster-a", {"status": {"conditions": []}})
    status = store.patch_status(
        "Cluster", "cluster-a", {"spec": {"kubeconfig": "new"}, "status": {"conditions": []}}
    )

    assert "status" not in main
    assert status["status"] == {"conditions": []}
    assert status["spec"] == {"kubeconfig": "old"}


def test_kinds_without_a_status_subresource_refuse_status_writes(store: ObjectStore) -> None:
    created = store.create(lease("elector", "node1"))

    with pytest.raises(InvalidError, match="status subresource"):
        store.update_status(created)
