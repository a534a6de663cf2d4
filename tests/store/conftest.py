"""The backends the contract suite runs against, and a store of each opened per test.

A backend joins the suite by adding one :class:`Backend` to ``BACKENDS``; tests only ever
see a URL and :func:`clusterlink.store.open_store`, as components do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterlink.store import ObjectStore, open_store


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


BACKENDS = [Backend("sqlite", _sqlite_url)]


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.param
    return chosen


@pytest.fixture
def store_url(backend: Backend, tmp_path: Path) -> str:
    return backend.url_for(tmp_path, None)


@pytest.fixture
def store(store_url: str) -> Iterator[ObjectStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()
