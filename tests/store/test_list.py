"""Listing: label and field selectors, namespaces, order, and the list's resourceVersion."""

from __future__ import annotations

import pytest

from clusterlink.store import BadRequestError, ObjectStore

from .builders import cluster, config_map


@pytest.fixture
def clusters(store: ObjectStore) -> ObjectStore:
    store.create(cluster("c-gateway", labels={"mode": "gateway", "tier": "edge"}))
    store.create(cluster("a-p2p", labels={"mode": "p2p"}))
    store.create(cluster("b-plain"))
    store.create(cluster("d-excluded", labels={"mode": "p2p", "kosmos.io/exclude": ""}))
    return store


def names(store: ObjectStore, label_selector: str = "", field_selector: str = "") -> list[str]:
    listed = store.list("Cluster", label_selector=label_selector, field_selector=field_selector)
    return [item["metadata"]["name"] for item in listed.items]


def test_a_list_returns_every_object_of_the_kind_ordered_by_name(clusters: ObjectStore) -> None:
    assert names(clusters) == ["a-p2p", "b-plain", "c-gateway", "d-excluded"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("mode=p2p", ["a-p2p", "d-excluded"]),
        ("mode==gateway", ["c-gateway"]),
        ("mode!=p2p", ["b-plain", "c-gateway"]),
        ("mode in (gateway, p2p)", ["a-p2p", "c-gateway", "d-excluded"]),
        ("mode notin (p2p)", ["b-plain", "c-gateway"]),
        ("mode", ["a-p2p", "c-gateway", "d-excluded"]),
        ("!mode", ["b-plain"]),
        ("mode=p2p,!kosmos.io/exclude", ["a-p2p"]),
        ("kosmos.io/exclude=", ["d-excluded"]),
        ("mode=p2p,tier=edge", []),
    ],
)
def test_label_selectors_choose_objects(
    clusters: ObjectStore, selector: str, expected: list[str]
) -> None:
    assert names(clusters, selector) == expected


def test_a_field_selector_chooses_by_name(clusters: ObjectStore) -> None:
    assert names(clusters, field_selector="metadata.name=b-plain") == ["b-plain"]
    assert len(names(clusters, field_selector="metadata.name!=b-plain")) == 3


def test_a_malformed_selector_fails_with_bad_request(clusters: ObjectStore) -> None:
    with pytest.raises(BadRequestError) as raised:
        clusters.list("Cluster", label_selector="mode in (p2p")

    assert raised.value.code == 400


def test_an_unsupported_field_selector_fails_with_bad_request(clusters: ObjectStore) -> None:
    with pytest.raises(BadRequestError, match=r"spec\.nodeName"):
        clusters.list("Cluster", field_selector="spec.nodeName=x")


def test_lists_filter_by_namespace_or_span_all_namespaces(store: ObjectStore) -> None:
    store.create(config_map("a", {}, namespace="one"))
    store.create(config_map("b", {}, namespace="two"))

    in_one = store.list("ConfigMap", namespace="one").items
    everywhere = store.list("ConfigMap").items

    assert [item["metadata"]["name"] for item in in_one] == ["a"]
    assert [item["metadata"]["name"] for item in everywhere] == ["a", "b"]


@pytest.mark.kube_differs(
    "a list's resourceVersion is etcd's global revision, which every other writer in the "
    "cluster (kubelets' and controllers' leases) moves past the store's latest write"
)
def test_the_list_resource_version_is_that_of_the_latest_write(store: ObjectStore) -> None:
    store.create(cluster("a"))
    latest = store.create(config_map("other-kind", {}))

    assert store.list("Cluster").resource_version == latest["metadata"]["resourceVersion"]
