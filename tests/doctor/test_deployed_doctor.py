"""``kosmosctl dr --src-kubeconfig A --dst-kubeconfig B`` against emulated API servers.

The doctor deploys the floater manifests into two emulated clusters; :mod:`.fake_kubelet`
runs them (in-process floaters on loopback addresses, registering through the kube store).
Checked: every pair passes, floaters run exactly on the eligible nodes and report the
right cluster names, and afterwards every object of both clusters is as before; ``--keep``
leaves the floaters, a second run reuses them; floaters that never come up and API servers
that are unreachable, misnamed or forbid writes give a clear error naming the cluster and
its flag, and nothing is left behind.

Not checked here (see :mod:`tests.store.kube_emulator`): RBAC enforcement, real scheduling,
image pulls, the floater's privileges in a real pod.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from clusterlink.cli.doctor import doctor_command
from clusterlink.deploy.floaters import SERVICE_ACCOUNT
from clusterlink.floater.icmp import EchoSocket
from clusterlink.store import ObjectStore, open_store
from tests.store.kube_emulator import WORKLOAD_KINDS, EmulatedCluster, Fault, KubeEmulator

from .fake_kubelet import FakeKubelet, FakeNode

NAMESPACE = "kosmos-system"
Snapshot = dict[tuple[str, str, str], dict[str, Any]]


def _icmp_allowed() -> bool:
    try:
        with EchoSocket("127.0.0.1"):
            return True
    except OSError:
        return False


PROTOCOL = "all" if _icmp_allowed() else "tcp"  # ping needs root or a ping group


@pytest.fixture(scope="module")
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator.serving(workloads=True) as serving:
        yield serving


@dataclass(frozen=True)
class Member:
    emulated: EmulatedCluster
    kubelet: FakeKubelet

    @property
    def kubeconfig(self) -> str:
        return str(self.emulated.kubeconfig)

    @property
    def backing(self) -> ObjectStore:
        return self.emulated.store

    def snapshot(self) -> Snapshot:
        return {
            (kind, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
            for kind in WORKLOAD_KINDS.by_kind
            for o in self.backing.list(kind).items
        }


@contextlib.contextmanager
def member(
    emulator: KubeEmulator, directory: Path, nodes: list[FakeNode], *, image_pulls: bool = True
) -> Iterator[Member]:
    directory.mkdir()
    emulated = emulator.cluster_in(directory)
    url = f"kube://{emulated.kubeconfig}?qps=0&backoff=0.01&max_backoff=0.05"
    floater_store = open_store(url)
    try:
        with FakeKubelet(emulated.store, floater_store, nodes, image_pulls=image_pulls) as kubelet:
            yield Member(emulated, kubelet)
    finally:
        floater_store.close()


def nodes_of(second_octet: int, count: int) -> list[FakeNode]:
    return [
        FakeNode(f"n{i}", f"127.{second_octet}.1.{i}", f"127.{second_octet}.2.{i}")
        for i in range(1, count + 1)
    ]


def agent_daemon_set(cluster: str) -> dict[str, Any]:
    """What ``join`` installs; the doctor reads the member's Cluster name from it."""
    container = {"name": "agent", "image": "x", "env": [{"name": "CLUSTER_NAME", "value": cluster}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "clusterlink-agent", "namespace": NAMESPACE},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


@pytest.fixture
def source(emulator: KubeEmulator, tmp_path: Path) -> Iterator[Member]:
    """Two nodes that get floaters, a Kosmos virtual node and an excluded one that do not;
    ClusterLink installed (namespace and agent) as cluster ``member-a``."""
    nodes = [
        *nodes_of(10, 2),
        FakeNode("virtual", "127.10.1.8", "127.10.2.8", {"kubernetes.io/role": "agent"}),
        FakeNode("excluded", "127.10.1.9", "127.10.2.9", {"kosmos.io/exclude": "true"}),
    ]
    with emulator.clusters(), member(emulator, tmp_path / "source", nodes) as made:
        made.backing.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
        made.backing.create(agent_daemon_set("member-a"))
        yield made


@pytest.fixture
def destination(emulator: KubeEmulator, tmp_path: Path) -> Iterator[Member]:
    """Two nodes, nothing installed: not even the namespace."""
    with emulator.clusters(), member(emulator, tmp_path / "destination", nodes_of(20, 2)) as made:
        yield made


def doctor(*args: str) -> Result:
    return CliRunner().invoke(
        doctor_command,
        ["--protocol", PROTOCOL, "--ip-family", "ipv4", "--count", "1", "--timeout", "0.5", *args],
    )


def pairs(*members: Member, wait: float = 20.0) -> list[str]:
    flags = ["--src-kubeconfig", members[0].kubeconfig, "-w", str(wait), "-o", "json"]
    if len(members) > 1:
        flags += ["--dst-kubeconfig", members[1].kubeconfig, "--dst-name", "member-b"]
    return flags


def report(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_floaters_are_deployed_checked_and_removed_leaving_both_clusters_as_before(
    source: Member, destination: Member
) -> None:
    before = (source.snapshot(), destination.snapshot())

    result = doctor(*pairs(source, destination), "--host-network")

    assert result.exit_code == 0, result.output
    results = report(result)["results"]
    assert results
    assert all(r["result"] == "SUCCESSED" for r in results)
    a_to_b = {
        (f"member-a-{a}", f"member-b-{b}", network)
        for a in ("n1", "n2")
        for b in ("n1", "n2")
        for network in ("pod", "host")
    }
    b_to_a = {(destination, source, network) for source, destination, network in a_to_b}
    assert {(r["sourceNode"], r["destinationNode"], r["network"]) for r in results} == (
        a_to_b | b_to_a
    )
    assert {(f.node, f.network, f.addresses) for f in source.kubelet.started} == {
        ("n1", "pod", ("127.10.1.1",)),
        ("n2", "pod", ("127.10.1.2",)),
        ("n1", "host", ("127.10.2.1",)),
        ("n2", "host", ("127.10.2.2",)),
    }
    assert (source.snapshot(), destination.snapshot()) == before


def test_the_cluster_name_falls_back_to_the_context_and_the_doctor_says_so(
    destination: Member,
) -> None:
    result = doctor("--src-kubeconfig", destination.kubeconfig, "-w", "20", "-o", "json")

    assert result.exit_code == 0, result.output
    assert {f.cluster for f in destination.kubelet.started} == {"emulated"}
    assert "the kubeconfig context's name" in result.stderr


def test_keep_leaves_the_floaters_and_a_second_run_reuses_them(
    source: Member, destination: Member
) -> None:
    before = destination.snapshot()

    first = doctor(*pairs(source, destination), "--keep")
    started = len(source.kubelet.started) + len(destination.kubelet.started)
    second = doctor(*pairs(source, destination))

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert len(source.kubelet.started) + len(destination.kubelet.started) == started == 4
    kept = set(destination.snapshot()) - set(before)
    assert ("DaemonSet", NAMESPACE, SERVICE_ACCOUNT) in kept
    assert ("Namespace", "", NAMESPACE) in kept
    assert "floaters kept (--keep)" in first.stderr


def test_floaters_that_never_come_up_are_named_with_their_reason_and_removed(
    emulator: KubeEmulator, tmp_path: Path
) -> None:
    with (
        emulator.clusters(),
        member(emulator, tmp_path / "broken", nodes_of(30, 1), image_pulls=False) as broken,
    ):
        before = broken.snapshot()

        result = doctor("--src-kubeconfig", broken.kubeconfig, "-w", "1")

        after = broken.snapshot()
    assert result.exit_code == 1
    message = result.stderr
    assert "floaters not ready after 1 s" in message
    assert f"source cluster (--src-kubeconfig {broken.kubeconfig})" in message
    assert f"DaemonSet {NAMESPACE}/clusterlink-floater: pod clusterlink-floater-" in message
    assert "on node n1: container floater waiting: ImagePullBackOff" in message
    assert after == before


def test_a_destination_that_forbids_writes_fails_and_the_source_is_cleaned_up(
    source: Member, destination: Member
) -> None:
    before = (source.snapshot(), destination.snapshot())
    destination.emulated.inject(Fault(403, reason="Forbidden", methods=frozenset({"POST"})), 5)

    result = doctor(*pairs(source, destination))

    assert result.exit_code == 1
    assert f"destination cluster (--dst-kubeconfig {destination.kubeconfig})" in result.stderr
    assert "HTTP 403" in result.stderr
    source.kubelet.settle()
    assert (source.snapshot(), destination.snapshot()) == before


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_api_server_is_named_with_its_flag(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "down.yaml"
    cluster = {"server": f"http://127.0.0.1:{_closed_port()}"}
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "down", "cluster": cluster}],
                "users": [{"name": "down", "user": {"token": "t"}}],
                "contexts": [{"name": "down", "context": {"cluster": "down", "user": "down"}}],
                "current-context": "down",
            }
        )
    )

    result = doctor("--src-kubeconfig", str(kubeconfig))

    assert result.exit_code == 1
    assert f"source cluster (--src-kubeconfig {kubeconfig})" in result.stderr
    assert "cannot reach the API server" in result.stderr


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--src-kubeconfig", "/nonexistent/kubeconfig"], "no kubeconfig file"),
        (["--src-context", "nowhere"], "nowhere"),
    ],
)
def test_an_unusable_kubeconfig_or_context_is_named_with_its_flag(
    destination: Member, flags: list[str], expected: str
) -> None:
    if "--src-context" in flags:
        flags = ["--src-kubeconfig", destination.kubeconfig, *flags]

    result = doctor(*flags)

    assert result.exit_code == 1
    assert "source cluster (--src-kubeconfig" in result.stderr
    assert expected in result.stderr
    assert destination.kubelet.started == []
