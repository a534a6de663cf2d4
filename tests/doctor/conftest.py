"""One dual-stack 2x2 lab shared by the doctor's end-to-end tests (root), always removed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clusterlink.lab.addressing import LabSpec
from tests.lab.support import RunningLab, kosmosctl, unique_lab_name
from tests.namespaces import mark_namespace_tests


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_namespace_tests(
        items,
        lambda path: path.endswith("tests/doctor/test_lab_doctor.py"),
        ("ip", "bridge", "iptables", "nsenter"),
    )


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
