"""Fixtures of the data plane tests: root, and a throwaway lab deleted after each test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.dataplane.lab import Lab

_MISSING = [tool for tool in ("ip", "bridge", "iptables", "nsenter") if not shutil.which(tool)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root to create network namespaces"
    elif _MISSING:
        reason = f"needs {', '.join(_MISSING)} (make system-packages)"
    for item in items:
        if "tests/dataplane/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.root)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def lab() -> Iterator[Lab]:
    instance = Lab()
    try:
        yield instance
    finally:
        instance.close()
