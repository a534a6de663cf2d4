"""Applying manifests: idempotent, never touching what another owner made, removing only
one owner's objects in dependency order; and waiting for workloads to be ready."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from clusterlink.deploy.applier import apply_all, apply_one, remove_owned
from clusterlink.deploy.lifecycle import Endpoint, LifecycleError, Timeouts, is_ready, wait_ready
from clusterlink.deploy.ownership import Owner
from clusterlink.deploy.store_target import StoreTarget
from clusterlink.deploy.targets import ObjectId
from clusterlink.store import open_store
from tests.cli.install_support import MemoryTarget, RecordingReporter

from .conftest import every_manifest

A, B = Owner.join("cluster-a"), Owner.join("cluster-b")


def secret(name: str, **values: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "kosmos-system"},
        "stringData": values,
    }


def test_applying_twice_changes_nothing_the_second_time() -> None:
    target = MemoryTarget()
    manifests = every_manifest()

    first = {a.verb for a in apply_all(target, manifests, A)}
    before = {i: o["metadata"]["resourceVersion"] for i, o in target.objects.items()}
    second = {a.verb for a in apply_all(target, manifests, A)}

    assert first == {"created", "unchanged"}  # the Namespace is in two of the sets
    assert second == {"unchanged"}
    assert {i: o["metadata"]["resourceVersion"] for i, o in target.objects.items()} == before


def test_a_changed_manifest_is_configured_and_server_fields_are_kept() -> None:
    target = MemoryTarget()
    apply_one(target, secret("s", kubeconfig="one"), A)
    identity = ObjectId("Secret", "s", "kosmos-system")
    target.objects[identity]["metadata"]["uid"] = "from-the-server"

    applied = apply_one(target, secret("s", kubeconfig="two"), A)

    assert applied.verb == "configured"
    stored = target.objects[identity]
    assert stored["data"] == {"kubeconfig": "dHdv"}
    assert stored["metadata"]["uid"] == "from-the-server"


def test_an_object_of_another_owner_or_of_none_is_kept_and_never_removed() -> None:
    target = MemoryTarget()
    apply_one(target, secret("theirs"), B)
    target.create(secret("users"))

    verbs = [apply_one(target, secret(n, k="v"), A).verb for n in ("theirs", "users")]
    removed = remove_owned(target, A)

    assert verbs == ["kept", "kept"]
    assert removed == []
    assert len(target.objects) == 2


def test_removal_deletes_workloads_first_and_the_namespace_last() -> None:
    target = MemoryTarget()
    apply_all(target, every_manifest(), A)

    kinds = [a.target.kind for a in remove_owned(target, A)]

    assert kinds[0] == "DaemonSet"
    assert kinds[-1] == "Namespace"
    assert kinds.index("Deployment") < kinds.index("ClusterRoleBinding") < kinds.index("Secret")
    assert target.objects == {}


def test_kinds_a_store_does_not_hold_are_skipped_and_say_why(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 's.db'}")
    try:
        target = StoreTarget(store, "store test")
        verbs = {a.target.kind: (a.verb, a.note) for a in apply_all(target, every_manifest(), A)}
    finally:
        store.close()

    assert verbs["Secret"] == ("created", "")
    assert verbs["Deployment"] == ("skipped", "store test holds no such kind")


@pytest.mark.parametrize(
    ("workload", "ready"),
    [
        ({"kind": "Deployment", "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}, True),
        ({"kind": "Deployment", "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}, False),
        (
            {
                "kind": "DaemonSet",
                "metadata": {"generation": 2},
                "status": {"observedGeneration": 1, "desiredNumberScheduled": 1, "numberReady": 1},
            },
            False,
        ),
        ({"kind": "DaemonSet", "status": {"desiredNumberScheduled": 3, "numberReady": 3}}, True),
    ],
)
def test_readiness_of_workloads(workload: dict[str, Any], ready: bool) -> None:
    assert is_ready(workload) is ready


def test_waiting_gives_up_at_the_deadline_naming_the_workload(tmp_path: Path) -> None:
    target = MemoryTarget()
    manifests = every_manifest()
    apply_all(target, manifests, A)
    store = open_store(f"sqlite://{tmp_path / 's.db'}")
    ticks = itertools.count()
    try:
        endpoint = Endpoint("cluster-a", store, target, "memory://")
        with pytest.raises(LifecycleError, match="not ready after 10s"):
            wait_ready(
                endpoint,
                manifests,
                RecordingReporter(),
                Timeouts(ready=10.0, poll=1.0),
                clock=lambda: float(next(ticks)),
                sleep=lambda _: None,
            )
    finally:
        store.close()
