"""Whether tests that build network namespaces can run here, and the reason when not.

One definition for every suite that needs root and kernel tools (data plane, agent, lab,
doctor), so they all skip for the same stated reason and are all marked ``root``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence

import pytest

ROOT_REASON = "needs root to create network namespaces"


def namespace_skip_reason(tools: Sequence[str]) -> str:
    """Why namespace tests cannot run on this machine ("" when they can)."""
    if os.geteuid() != 0:
        return ROOT_REASON
    missing = [tool for tool in tools if not shutil.which(tool)]
    return f"needs {', '.join(missing)} (make system-packages)" if missing else ""


def namespace_marks(tools: Sequence[str]) -> list[pytest.MarkDecorator]:
    """``pytestmark`` of a module of namespace tests."""
    reason = namespace_skip_reason(tools)
    return [pytest.mark.root, pytest.mark.skipif(bool(reason), reason=reason)]


def mark_namespace_tests(
    items: list[pytest.Item], selected: Callable[[str], bool], tools: Sequence[str]
) -> None:
    """Mark the collected tests whose path ``selected`` accepts as ``root``, and skip them
    with the reason when this machine cannot run them."""
    reason = namespace_skip_reason(tools)
    for item in items:
        if selected(str(item.fspath).replace(os.sep, "/")):
            item.add_marker(pytest.mark.root)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
