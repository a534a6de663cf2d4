"""``kosmosctl dr --src-store URL --dst-store URL`` end to end, without namespaces.

Two embedded (sqlite) member stores with in-process floaters already running on loopback
addresses, as on a cluster where they were deployed beforehand: the doctor deploys nothing,
plans every pair through the stores, and every probe passes. Nothing of the run is left in
the stores but the floaters' own registrations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from clusterlink.cli.doctor import doctor_command
from clusterlink.floater.daemon import Floater
from clusterlink.floater.messages import APP, APP_LABEL, FloaterInfo
from clusterlink.store import ObjectStore, open_store

from .test_deployed_doctor import PROTOCOL

NAMESPACE = "kosmos-system"


def store_url(directory: Path, cluster: str) -> str:
    return f"sqlite://{directory / f'{cluster}.db'}?poll_interval=0.01"


@pytest.fixture
def members(tmp_path: Path) -> Iterator[dict[str, ObjectStore]]:
    stores = {cluster: open_store(store_url(tmp_path, cluster)) for cluster in ("a", "b")}
    floaters = [
        Floater(
            stores[cluster],
            FloaterInfo(f"{cluster}-{node}", cluster, node, "pod", (f"127.0.{octet}.{i}",), 0),
            NAMESPACE,
            max_concurrency=8,
        )
        for octet, cluster in ((31, "a"), (32, "b"))
        for i, node in enumerate(("n1", "n2"), start=1)
    ]
    for floater in floaters:
        floater.start()
    try:
        yield stores
    finally:
        for floater in floaters:
            floater.stop()
        for store in stores.values():
            store.close()


def test_floaters_running_in_two_stores_are_checked_pair_by_pair(
    members: dict[str, ObjectStore], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        doctor_command,
        [
            "--src-store", store_url(tmp_path, "a"),
            "--dst-store", store_url(tmp_path, "b"),
            "--protocol", PROTOCOL, "--ip-family", "ipv4", "--count", "1", "--timeout", "0.5",
            "-w", "10", "-o", "json",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert all(r["result"] == "SUCCESSED" for r in results)
    cross = {(f"a-{s}", f"b-{d}") for s in ("n1", "n2") for d in ("n1", "n2")}
    assert {(r["sourceNode"], r["destinationNode"]) for r in results} == cross | {
        (d, s) for s, d in cross
    }
    for store in members.values():
        left = store.list("ConfigMap", namespace=NAMESPACE).items
        assert {c["metadata"]["labels"][APP_LABEL] for c in left} == {APP}
        assert len(left) == 2  # the two registrations
