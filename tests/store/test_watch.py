"""Watching: events after a revision, snapshots, selectors, resuming, and compacted history."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from clusterlink.store import BadRequestError, GoneError, ObjectStore, open_store

from .builders import WAIT_SECONDS, cluster, config_map, summary, take
from .conftest import Backend


def test_a_watch_reports_creates_updates_and_deletes_in_order(store: ObjectStore) -> None:
    start = store.list("Cluster").resource_version
    with store.watch("Cluster", resource_version=start, timeout_seconds=WAIT_SECONDS) as watch:
        created = store.create(cluster("cluster-a"))
        store.update({**created, "spec": {"kubeconfig": "x"}})
        store.delete("Cluster", "cluster-a")

        events = take(watch, 3)

    assert summary(events) == [
        ("ADDED", "cluster-a"),
        ("MODIFIED", "cluster-a"),
        ("DELETED", "cluster-a"),
    ]
    assert events[1].object["spec"] == {"kubeconfig": "x"}
    revisions = [event.object["metadata"]["resourceVersion"] for event in events]
    assert len(set(revisions)) == 3


def test_a_watch_only_reports_its_kind(store: ObjectStore) -> None:
    start = store.list("Cluster").resource_version
    with store.watch("Cluster", resource_version=start, timeout_seconds=WAIT_SECONDS) as watch:
        store.create(config_map("noise", {}))
        store.create(cluster("cluster-a"))

        assert summary(take(watch, 1)) == [("ADDED", "cluster-a")]


def test_a_watch_without_resource_version_starts_with_the_current_objects(
    store: ObjectStore,
) -> None:
    store.create(cluster("b"))
    store.create(cluster("a"))
    with store.watch("Cluster", timeout_seconds=WAIT_SECONDS) as watch:
        initial = take(watch, 2)
        store.create(cluster("c"))
        later = take(watch, 1)

    assert summary(initial) == [("ADDED", "a"), ("ADDED", "b")]
    assert summary(later) == [("ADDED", "c")]


def test_objects_moving_across_a_label_selector_are_added_and_deleted(
    store: ObjectStore,
) -> None:
    created = store.create(cluster("cluster-a"))
    start = created["metadata"]["resourceVersion"]
    with store.watch(
        "Cluster",
        label_selector="mode=gateway",
        resource_version=start,
        timeout_seconds=WAIT_SECONDS,
    ) as watch:
        store.patch("Cluster", "cluster-a", {"metadata": {"labels": {"mode": "gateway"}}})
        store.patch("Cluster", "cluster-a", {"spec": {"kubeconfig": "x"}})
        store.patch("Cluster", "cluster-a", {"metadata": {"labels": {"mode": "p2p"}}})
        store.patch("Cluster", "cluster-a", {"spec": {"kubeconfig": "y"}})
        store.patch("Cluster", "cluster-a", {"metadata": {"labels": {"mode": "gateway"}}})

        events = take(watch, 4)

    assert summary(events) == [
        ("ADDED", "cluster-a"),
        ("MODIFIED", "cluster-a"),
        ("DELETED", "cluster-a"),
        ("ADDED", "cluster-a"),
    ]


def test_a_watch_can_follow_one_object_by_name(store: ObjectStore) -> None:
    start = store.list("Cluster").resource_version
    with store.watch(
        "Cluster",
        field_selector="metadata.name=mine",
        resource_version=start,
        timeout_seconds=WAIT_SECONDS,
    ) as watch:
        store.create(cluster("other"))
        store.create(cluster("mine"))

        assert summary(take(watch, 1)) == [("ADDED", "mine")]


def test_a_watch_in_a_namespace_ignores_other_namespaces(store: ObjectStore) -> None:
    start = store.list("ConfigMap").resource_version
    with store.watch(
        "ConfigMap", namespace="two", resource_version=start, timeout_seconds=WAIT_SECONDS
    ) as watch:
        store.create(config_map("a", {}, namespace="one"))
        store.create(config_map("b", {}, namespace="two"))

        assert summary(take(watch, 1)) == [("ADDED", "b")]


def test_a_resumed_watch_delivers_exactly_what_was_missed(store: ObjectStore) -> None:
    start = store.list("Cluster").resource_version
    with store.watch("Cluster", resource_version=start, timeout_seconds=WAIT_SECONDS) as first:
        for name in ("a", "b", "c"):
            store.create(cluster(name))
        seen = take(first, 2)
        resume_from = first.resource_version
    store.create(cluster("d"))

    with store.watch(
        "Cluster", resource_version=resume_from, timeout_seconds=WAIT_SECONDS
    ) as second:
        rest = take(second, 2)

    assert summary(seen) == [("ADDED", "a"), ("ADDED", "b")]
    assert summary(rest) == [("ADDED", "c"), ("ADDED", "d")]


def test_a_watch_resumes_on_a_reopened_store(store_url: str) -> None:
    first = open_store(store_url)
    start = first.create(cluster("a"))["metadata"]["resourceVersion"]
    first.close()
    writer = open_store(store_url)
    writer.create(cluster("b"))

    with writer.watch("Cluster", resource_version=start, timeout_seconds=WAIT_SECONDS) as watch:
        events = take(watch, 1)
    writer.close()

    assert summary(events) == [("ADDED", "b")]


def test_a_watch_from_compacted_history_is_gone(backend: Backend, tmp_path: Path) -> None:
    store = open_store(backend.url_for(tmp_path, 2))
    try:
        old = store.create(cluster("a"))["metadata"]["resourceVersion"]
        for name in ("b", "c", "d", "e"):
            store.create(cluster(name))

        stale = store.watch("Cluster", resource_version=old, timeout_seconds=WAIT_SECONDS)
        with pytest.raises(GoneError) as raised:
            take(stale, 1)

        assert (raised.value.code, raised.value.reason) == (410, "Expired")
        assert "too old resource version" in str(raised.value)
        recent = store.list("Cluster").items[-2]["metadata"]["resourceVersion"]
        with store.watch("Cluster", resource_version=recent, timeout_seconds=WAIT_SECONDS) as w:
            assert summary(take(w, 1)) == [("ADDED", "e")]
    finally:
        store.close()


def test_a_malformed_resource_version_is_a_bad_request(store: ObjectStore) -> None:
    with pytest.raises(BadRequestError):
        store.watch("Cluster", resource_version="yesterday")


def test_a_watch_ends_at_its_timeout(store: ObjectStore) -> None:
    with store.watch("Cluster", resource_version="", timeout_seconds=0.05) as watch:
        assert list(watch) == []


def test_stopping_a_watch_from_another_thread_ends_its_iteration(store: ObjectStore) -> None:
    watch = store.watch("Cluster", resource_version=store.list("Cluster").resource_version)
    received: list[object] = []
    consumer = threading.Thread(target=lambda: received.extend(watch))
    consumer.start()

    watch.stop()
    consumer.join(WAIT_SECONDS)

    assert not consumer.is_alive()
    assert received == []
