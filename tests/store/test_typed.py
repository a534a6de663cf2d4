"""The typed helpers: the API models written and read through a store."""

from __future__ import annotations

from clusterlink.api.models import Cluster, ClusterNode, ClusterNodeSpec, ClusterStatus, ObjectMeta
from clusterlink.store import ObjectStore
from clusterlink.store.typed import (
    create_model,
    get_model,
    list_models,
    update_model,
    update_model_status,
)


def test_models_round_trip_with_store_metadata(store: ObjectStore) -> None:
    node = ClusterNode(
        metadata=ObjectMeta(name="cluster-a-node1", labels={"kosmos.io/cluster": "cluster-a"}),
        spec=ClusterNodeSpec(cluster_name="cluster-a", node_name="node1", ip="192.168.0.1"),
    )

    created = create_model(store, node)

    assert created.spec == node.spec
    assert created.metadata.uid
    assert get_model(store, ClusterNode, "cluster-a-node1") == created


def test_listing_models_selects_by_label(store: ObjectStore) -> None:
    for name, cluster_name in (("a-n1", "a"), ("b-n1", "b")):
        create_model(
            store,
            ClusterNode(metadata=ObjectMeta(name=name, labels={"kosmos.io/cluster": cluster_name})),
        )

    nodes, resource_version = list_models(store, ClusterNode, "kosmos.io/cluster=b")

    assert [node.name for node in nodes] == ["b-n1"]
    assert resource_version


def test_model_updates_respect_the_status_subresource(store: ObjectStore) -> None:
    created = create_model(store, Cluster(metadata=ObjectMeta(name="cluster-a")))
    with_status = created.model_copy(
        update={
            "status": ClusterStatus.model_validate(
                {"clusterLinkStatus": {"podCIDRs": ["10.1.0.0/16"]}}
            )
        }
    )

    ignored = update_model(store, with_status)
    written = update_model_status(store, with_status)

    assert ignored.status == ClusterStatus()
    assert written.status.cluster_link_status.pod_cidrs == ["10.1.0.0/16"]
