"""One dual-stack 2x2 lab shared by the doctor's end-to-end tests (root), always removed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from clusterlink.lab.addressing import LabSpec
from tests.lab.support import RunningLab, kosmosctl, unique_lab_name

_MISSING = [tool for tool in ("ip", "bridge", "iptables", "nsenter") if not shutil.which(tool)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root to create network namespaces"
    elif _MISSING:
        reason = f"needs {', '.join(_MISSING)} (make system-packages)"
    for item in items:
        if str(item.fspath).replace(os.sep, "/").endswith("tests/doctor/test_lab_doctor.py"):
            item.add_marker(pytest.mark.root)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    spec = LabSpec(name=unique_lab_name(), clusters=2, nodes=2, mode="p2p", ip_family="all")
    running = RunningLab(spec, tmp_path_factory.mktemp("doctor") / "labs")
    try:
        done = running.cli("up", "--clusters", "2", "--nodes", "2", "--mode", "p2p")
        assert done.returncode == 0, f"lab up failed:\n{done.stdout}\n{done.stderr}"
        yield running
    finally:
        kosmosctl("down", "--name", spec.name, state_dir=running.state_dir)
