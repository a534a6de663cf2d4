"""Publishing plans and removing runs: every store at once, one collection delete per store."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from clusterlink.doctor.exchange import publish_plans, remove_run
from clusterlink.doctor.matrix import Matrix, MatrixOptions
from clusterlink.floater.messages import (
    RUN_LABEL,
    FloaterInfo,
    plan_document,
    plan_name,
    result_name,
)
from clusterlink.floater.plan import ProbePlan
from clusterlink.store import ObjectStore, UnavailableError, open_store
from clusterlink.store.kube import ForbiddenError

NAMESPACE = "kosmos-system"
WAIT_SECONDS = 10.0


class Spying:
    """A store that records its calls; optionally every create waits at ``barrier`` (so the
    test fails unless the stores are written at once) or a method fails."""

    def __init__(
        self,
        inner: ObjectStore,
        *,
        barrier: threading.Barrier | None = None,
        failing: dict[str, Exception] | None = None,
    ) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self._barrier = barrier
        self._failing = failing or {}

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", obj["metadata"]["name"]))
        if self._barrier is not None:
            self._barrier.wait(WAIT_SECONDS)
        if "create" in self._failing:
            raise self._failing["create"]
        return self.inner.create(obj)

    def create_many(self, objs: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
        self.calls.append(("create_many", ",".join(o["metadata"]["name"] for o in objs)))
        if self._barrier is not None:
            self._barrier.wait(WAIT_SECONDS)
        if "create" in self._failing:
            raise self._failing["create"]
        return self.inner.create_many(objs)

    def delete(self, kind: str, name: str, namespace: str = "", **options: Any) -> Any:
        self.calls.append(("delete", name))
        return self.inner.delete(kind, name, namespace, **options)

    def delete_collection(self, kind: str, namespace: str = "", *, label_selector: str = "") -> int:
        self.calls.append(("delete_collection", label_selector))
        if "delete_collection" in self._failing:
            raise self._failing["delete_collection"]
        return self.inner.delete_collection(kind, namespace, label_selector=label_selector)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[ObjectStore]]:
    opened = [
        open_store(f"sqlite://{tmp_path / f'member{i}.db'}?poll_interval=0.01") for i in range(3)
    ]
    yield opened
    for store in opened:
        store.close()


def _floater(name: str) -> FloaterInfo:
    return FloaterInfo(name, "cluster1", "node1", "pod", ("127.0.0.1",))


def _matrix(run: str, floaters: list[FloaterInfo]) -> Matrix:
    plans = tuple((f, ProbePlan(run, f.name, ())) for f in floaters)
    return Matrix(run, (), plans, MatrixOptions())


def _names(store: ObjectStore) -> list[str]:
    listed = store.list("ConfigMap", namespace=NAMESPACE, label_selector=RUN_LABEL)
    return [d["metadata"]["name"] for d in listed.items]


def test_plans_go_to_every_store_at_once_each_stores_in_one_write(
    stores: list[ObjectStore],
) -> None:
    barrier = threading.Barrier(len(stores))
    spies = [Spying(store, barrier=barrier) for store in stores]
    floaters = {i: [_floater(f"f{i}-{j}") for j in range(2)] for i in range(len(stores))}
    store_of = {f.name: cast(ObjectStore, spies[i]) for i, fs in floaters.items() for f in fs}
    matrix = _matrix("run1", [f for fs in floaters.values() for f in fs])

    publish_plans(matrix, store_of, NAMESPACE)

    for i, spy in enumerate(spies):
        expected = [plan_name("run1", f.name) for f in floaters[i]]
        assert spy.calls == [("create_many", ",".join(expected))]
        assert _names(stores[i]) == expected


def test_publishing_again_replaces_the_plans(stores: list[ObjectStore]) -> None:
    floater = _floater("f0")
    publish_plans(_matrix("run1", [floater]), {"f0": stores[0]}, NAMESPACE)

    publish_plans(_matrix("run1", [floater]), {"f0": stores[0]}, NAMESPACE)

    assert _names(stores[0]) == [plan_name("run1", "f0")]


def test_plans_already_there_are_replaced_and_the_others_created(
    stores: list[ObjectStore],
) -> None:
    first, second = _floater("f0"), _floater("f1")
    store_of = {"f0": stores[0], "f1": stores[0]}
    publish_plans(_matrix("run1", [first]), store_of, NAMESPACE)

    publish_plans(_matrix("run1", [first, second]), store_of, NAMESPACE)

    assert _names(stores[0]) == [plan_name("run1", "f0"), plan_name("run1", "f1")]


def test_a_store_failing_to_take_a_plan_fails_the_publication(
    stores: list[ObjectStore],
) -> None:
    broken = Spying(stores[1], failing={"create": UnavailableError("member1 is down")})
    store_of: dict[str, ObjectStore] = {"f0": stores[0], "f1": cast(ObjectStore, broken)}
    store_of["f2"] = stores[2]
    matrix = _matrix("run1", [_floater("f0"), _floater("f1"), _floater("f2")])

    with pytest.raises(UnavailableError, match="member1 is down"):
        publish_plans(matrix, store_of, NAMESPACE)
    assert _names(stores[0]) == [plan_name("run1", "f0")]
    assert _names(stores[2]) == [plan_name("run1", "f2")]


def _written(store: ObjectStore, run: str, floater: str) -> None:
    """A run's plan and result for ``floater`` in ``store``."""
    store.create(plan_document(ProbePlan(run, floater, ()), NAMESPACE))
    result = plan_document(ProbePlan(run, floater, ()), NAMESPACE)
    result["metadata"]["name"] = result_name(run, floater)
    store.create(result)


def test_runs_are_removed_with_one_collection_delete_per_store(
    stores: list[ObjectStore],
) -> None:
    spies = [Spying(store) for store in stores]
    for i, store in enumerate(stores):
        for run in ("run8", "run8r", "run9"):
            _written(store, run, f"f{i}")

    remove_run([cast(ObjectStore, spy) for spy in spies], NAMESPACE, ("run8", "run8r"))

    for i, (store, spy) in enumerate(zip(stores, spies, strict=True)):
        assert spy.calls == [("delete_collection", f"{RUN_LABEL} in (run8,run8r)")]
        assert _names(store) == [plan_name("run9", f"f{i}"), result_name("run9", f"f{i}")]


def test_a_store_failing_cleanup_is_logged_and_the_others_cleaned(
    stores: list[ObjectStore], caplog: pytest.LogCaptureFixture
) -> None:
    for i, store in enumerate(stores):
        _written(store, "run8", f"f{i}")
    broken = Spying(stores[0], failing={"delete_collection": UnavailableError("down")})

    with caplog.at_level(logging.WARNING):
        remove_run([cast(ObjectStore, broken), *stores[1:]], NAMESPACE, ("run8",))

    assert "cannot remove runs run8: down" in caplog.text
    assert len(_names(stores[0])) == 2
    assert _names(stores[1]) == _names(stores[2]) == []


def test_without_the_right_to_delete_a_collection_runs_go_one_by_one(
    stores: list[ObjectStore],
) -> None:
    _written(stores[0], "run8", "f0")
    _written(stores[0], "run9", "f0")
    forbidden = ForbiddenError("configmaps is forbidden: cannot deletecollection")
    limited = Spying(stores[0], failing={"delete_collection": forbidden})

    remove_run([cast(ObjectStore, limited)], NAMESPACE, ("run8",))

    assert sorted(limited.calls[1:]) == [
        ("delete", plan_name("run8", "f0")),
        ("delete", result_name("run8", "f0")),
    ]
    assert _names(stores[0]) == [plan_name("run9", "f0"), result_name("run9", "f0")]
