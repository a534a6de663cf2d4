"""Fixtures of the data plane tests: root, and a throwaway lab deleted after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dataplane.lab import Lab
from tests.namespaces import mark_namespace_tests


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_namespace_tests(
        items, lambda path: "tests/dataplane/" in path, ("ip", "bridge", "iptables", "nsenter")
    )


@pytest.fixture
def lab() -> Iterator[Lab]:
    instance = Lab()
    try:
        yield instance
    finally:
        instance.close()
