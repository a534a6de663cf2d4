"""Components run unchanged against an API server: only their ``--store`` URL differs.

The network-manager runs as its own process, as in its Deployment, with a ``kube://`` store
pointing at the emulator, elects itself through a Lease and writes NodeConfigs there.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from clusterlink.cli.kosmosctl import main
from clusterlink.store import ObjectStore, open_store
from tests.controllers.support import eventually, put
from tests.unit.federations import cluster, cluster_node

from .builders import WAIT_SECONDS
from .kube_emulator import EmulatedCluster, KubeEmulator


@pytest.fixture
def emulated(kube_emulator: KubeEmulator, tmp_path: Path) -> Iterator[EmulatedCluster]:
    with kube_emulator.clusters():
        yield kube_emulator.cluster_in(tmp_path)


@pytest.fixture
def kube_url(emulated: EmulatedCluster) -> str:
    return f"kube://{emulated.kubeconfig}?qps=0&backoff=0.01&max_backoff=0.05"


@pytest.fixture
def control(kube_url: str) -> Iterator[ObjectStore]:
    store = open_store(kube_url)
    yield store
    store.close()


def test_the_network_manager_process_writes_nodeconfigs_through_the_api(
    kube_url: str, control: ObjectStore
) -> None:
    put(control, cluster("a", "gateway", ["10.1.0.0/16"], ["11.1.0.0/16"]))
    for index in (1, 2):
        put(
            control,
            cluster_node(
                f"a-n{index}",
                "a",
                f"192.168.1.{index}",
                gateway=index == 1,
                pod_cidrs=[f"10.1.{index}.0/24"],
            ),
        )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clusterlink.cli.components",
            "network-manager",
            "--store",
            kube_url,
            "--probe-port",
            "-1",
            "--identity",
            "manager-under-test",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        eventually(lambda: len(control.list("NodeConfig").items) == 2)
        lease = control.get("Lease", "network-manager", "kosmos-system")
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=WAIT_SECONDS)

    assert lease["spec"]["holderIdentity"] == "manager-under-test"
    assert process.returncode == 0, errors.decode()


def test_kosmosctl_reaches_the_api_server_through_kubeconfig_and_context(
    emulated: EmulatedCluster, control: ObjectStore
) -> None:
    put(control, cluster("a", "gateway", ["10.1.0.0/16"], ["11.1.0.0/16"]))
    result = CliRunner().invoke(main, ["get", "clusters", "--kubeconfig", str(emulated.kubeconfig)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[:3] == ["a", "gateway", "ipv4"]
    result = CliRunner().invoke(
        main, ["get", "clusters", "--kubeconfig", str(emulated.kubeconfig), "--context", "nope"]
    )
    assert result.exit_code == 2
    assert "nope" in result.stderr
