"""Informers over kinds an API server may not serve (a CNI's CRD that is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterlink.controllers.informer import Informer
from clusterlink.store import NotFoundError, ObjectList, ObjectStore

from .support import eventually, sqlite_store


class WithoutKind:
    """A store whose API server does not serve ``kind`` until ``install()``."""

    def __init__(self, store: ObjectStore, kind: str) -> None:
        self._store = store
        self._kind = kind
        self.installed = False

    def install(self) -> None:
        self.installed = True

    def list(self, kind: str, **options: Any) -> ObjectList:
        if kind == self._kind and not self.installed:
            raise NotFoundError(f"the server could not find the requested resource ({kind})")
        return self._store.list(kind, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def ippool(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {"cidr": "10.9.0.0/16"},
    }


def test_an_optional_kind_that_is_not_served_is_an_empty_synced_cache(tmp_path: Path) -> None:
    store = WithoutKind(sqlite_store(tmp_path), "IPPool")
    events: list[str] = []
    informer = Informer(
        store,  # type: ignore[arg-type]
        "IPPool",
        lambda kind, obj: events.append(obj["metadata"]["name"]),
        optional=True,
        absent_recheck=0.1,
    )
    informer.start()
    try:
        assert informer.wait_for_sync(5.0)
        assert informer.items() == []

        store.install()
        store.create(ippool("default-pool"))

        eventually(lambda: informer.get("default-pool"))
        assert events == ["default-pool"]
    finally:
        informer.stop()


def test_a_required_kind_that_is_not_served_never_counts_as_synced(tmp_path: Path) -> None:
    store = WithoutKind(sqlite_store(tmp_path), "IPPool")
    informer = Informer(store, "IPPool", lambda kind, obj: None)  # type: ignore[arg-type]
    informer.start()
    try:
        assert not informer.wait_for_sync(1.0)
    finally:
        informer.stop()
