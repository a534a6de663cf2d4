"""The backends the contract suite runs against, and a store of each opened per test.

A backend joins the suite with one entry in ``BACKENDS``: a fixture body yielding a
:class:`Backend`; tests only ever see a URL and :func:`clusterlink.store.open_store`, as
components do. The ``kube`` backend runs against :mod:`.kube_emulator` (see its docstring
for what that can and cannot check). A contract test that asserts something a real API
server does not do is marked ``pytest.mark.kube_differs(reason)`` and skipped on ``kube``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterlink.store import ObjectStore, open_store

from .kube_emulator import KubeEmulator


@dataclass(frozen=True)
class Backend:
    """How to address a fresh store of one backend; ``history`` bounds the watch history."""

    name: str
    url_for: Callable[[Path, int | None], str]


def _sqlite_url(directory: Path, history: int | None) -> str:
    options = "poll_interval=0.01"
    if history is not None:
        options += f"&history_events={history}&history_seconds=0"
    return f"sqlite://{directory / 'cluster.db'}?{options}"


def _sqlite(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield Backend("sqlite", _sqlite_url)


def _kube(request: pytest.FixtureRequest) -> Iterator[Backend]:
    marker = request.node.get_closest_marker("kube_differs")
    if marker is not None:
        pytest.skip(f"a real API server differs: {marker.args[0]}")
    emulator: KubeEmulator = request.getfixturevalue("kube_emulator")
    with emulator.clusters() as clusters:
        yield Backend("kube", clusters.url_for)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Iterator[Backend]]] = {
    "sqlite": _sqlite,
    "kube": _kube,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kube_differs(reason): the contract asserts what a real API server does not"
    )


@pytest.fixture(scope="session")
def kube_emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator.serving() as emulator:
        yield emulator


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from BACKENDS[request.param](request)


@pytest.fixture
def store_url(backend: Backend, tmp_path: Path) -> str:
    return backend.url_for(tmp_path, None)


@pytest.fixture
def store(store_url: str) -> Iterator[ObjectStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()
