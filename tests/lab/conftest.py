"""Fixtures of the end-to-end lab tests: root, the tools, and a lab removed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clusterlink.lab.addressing import LabSpec
from tests.lab.support import RunningLab, kosmosctl, unique_lab_name
from tests.namespaces import mark_namespace_tests

_END_TO_END = ("test_federation.py", "test_lifecycle.py", "test_failures.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_namespace_tests(
        items,
        lambda path: "tests/lab/" in path and path.endswith(_END_TO_END),
        ("ip", "bridge", "iptables", "nsenter", "ping"),
    )


LabFactory = Callable[..., RunningLab]


@pytest.fixture
def start_lab(tmp_path: Path) -> Iterator[LabFactory]:
    """Start a lab (``kosmosctl lab up`` with the given options); it is always taken down."""
    started: list[RunningLab] = []

    def start(**options: object) -> RunningLab:
        spec = LabSpec(name=unique_lab_name(), **options)  # type: ignore[arg-type]
        lab = RunningLab(spec, tmp_path / "labs")
        started.append(lab)
        done = lab.cli(
            "up",
            "--clusters", str(spec.clusters),
            "--nodes", str(spec.nodes),
            "--pods-per-node", str(spec.pods_per_node),
            "--mode", spec.mode,
            "--ip-family", spec.ip_family,
            *(["--overlap"] if spec.overlap else []),
        )  # fmt: skip
        assert done.returncode == 0, f"lab up failed:\n{done.stdout}\n{done.stderr}"
        return lab

    yield start
    for lab in started:
        kosmosctl("down", "--name", lab.spec.name, state_dir=lab.state_dir)
