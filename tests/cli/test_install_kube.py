"""Join and unjoin against API servers: the HTTP Kubernetes emulator for the kinds it serves
(Cluster, Secret: request shapes, labels, deletes) and an in-memory target for the others
(Namespace, CRD, RBAC, workloads), which the emulator does not serve. A thread plays
kube-controller-manager's token controller, filling the identities' token Secrets.

Not checked here: real RBAC (the emulator answers 404 to SelfSubjectAccessReviews, which the
preflight reports as "not checked"), server-side defaulting, garbage collection of a
deleted Namespace's content, and workloads becoming ready.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from clusterlink.deploy.joining import JoinOptions
from clusterlink.deploy.kube_target import KubeTarget
from clusterlink.deploy.lifecycle import (
    Endpoint,
    LifecycleError,
    Timeouts,
    join,
    preflight,
    unjoin,
)
from clusterlink.deploy.targets import ObjectId
from clusterlink.store import ObjectStore, open_store
from tests.store.kube_emulator import EmulatedCluster, Fault, KubeEmulator

from .install_support import MemoryTarget, RecordingReporter, RoutedTarget, node


@pytest.fixture(scope="module")
def ca_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real (self-signed) CA certificate, base64 as in a token Secret's ``ca.crt``."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl for a certificate")
    directory = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=kosmos-test-ca", "-keyout", str(directory / "ca.key"),
         "-out", str(directory / "ca.crt")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return base64.b64encode((directory / "ca.crt").read_bytes()).decode()


SERVICE_ACCOUNT_ANNOTATION = "kubernetes.io/service-account.name"


@dataclass(frozen=True)
class Cluster:
    """One emulated cluster, as the join sees it and as the test inspects it."""

    emulated: EmulatedCluster
    memory: MemoryTarget
    endpoint: Endpoint

    @property
    def backing(self) -> ObjectStore:
        return self.emulated.store

    def owned(self, name: str) -> set[ObjectId]:
        selector = f"kosmos.io/joined-cluster={name}"
        found = {ObjectId.of(o) for k in ("Secret", "Cluster") for o in
                 self.backing.list(k, label_selector=selector).items}  # fmt: skip
        return found | {
            i
            for i, o in self.memory.objects.items()
            if o["metadata"]["labels"].get("kosmos.io/joined-cluster") == name
        }


@pytest.fixture(scope="module")
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator.serving() as serving:
        yield serving


@contextlib.contextmanager
def _cluster(emulator: KubeEmulator, directory: Path, label: str) -> Iterator[Cluster]:
    directory.mkdir()
    emulated = emulator.cluster_in(directory)
    url = f"kube://{emulated.kubeconfig}?qps=0&backoff=0.01&max_backoff=0.05"
    store, server = open_store(url), KubeTarget(url)
    memory = MemoryTarget()
    endpoint = Endpoint(label, store, RoutedTarget(server, memory), url, server.server)
    try:
        yield Cluster(emulated, memory, endpoint)
    finally:
        server.close()
        store.close()


@pytest.fixture
def control(emulator: KubeEmulator, tmp_path: Path) -> Iterator[Cluster]:
    with emulator.clusters(), _cluster(emulator, tmp_path / "control", "control plane") as made:
        yield made


@pytest.fixture
def member(emulator: KubeEmulator, tmp_path: Path) -> Iterator[Cluster]:
    with emulator.clusters(), _cluster(emulator, tmp_path / "member", "cluster-a") as made:
        made.backing.create(node("node1", "10.1.0.0/24"))
        yield made


@pytest.fixture
def token_controller(control: Cluster, ca_data: str) -> Iterator[None]:
    """Fills every service-account-token Secret of the control plane, as Kubernetes does."""
    stop = threading.Event()

    def fill() -> None:
        while not stop.wait(0.02):
            for secret in control.backing.list("Secret").items:
                if secret.get("type") == "kubernetes.io/service-account-token" and not (
                    secret.get("data") or {}
                ).get("token"):
                    account = secret["metadata"]["annotations"][SERVICE_ACCOUNT_ANNOTATION]
                    token = f"token-for-{account}"
                    data = {"token": base64.b64encode(token.encode()).decode(), "ca.crt": ca_data}
                    control.backing.update({**secret, "data": data})

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def _join(control: Cluster, member: Cluster, name: str = "cluster-a", **flags: object) -> None:
    join(
        control.endpoint,
        member.endpoint,
        JoinOptions(name=name, **flags),  # type: ignore[arg-type]
        RecordingReporter(),
        timeouts=Timeouts(tokens=5.0),
    )


@pytest.mark.usefixtures("token_controller")
def test_join_writes_the_cluster_and_a_member_secret_of_working_kubeconfigs(
    control: Cluster, member: Cluster, tmp_path: Path, ca_data: str
) -> None:
    _join(control, member, network_type="p2p", ip_family="all", cni="cilium", default_nic="ens5")

    cluster = control.backing.get("Cluster", "cluster-a")
    options = cluster["spec"]["clusterLinkOptions"]
    assert (options["networkType"], options["ipFamily"], options["cni"]) == ("p2p", "all", "cilium")
    assert options["defaultNICName"] == "ens5"
    secret = member.backing.get("Secret", "clusterlink-agent-proxy", "kosmos-system")
    kubeconfig = base64.b64decode(secret["data"]["agent"]).decode()
    parsed = yaml.safe_load(kubeconfig)
    assert parsed["clusters"][0]["cluster"] == {
        "server": control.endpoint.server,
        "certificate-authority-data": ca_data,
    }
    path = tmp_path / "agent-kubeconfig"
    path.write_text(kubeconfig)
    as_agent = open_store(f"kube://{path}?qps=0")
    try:
        assert [c["metadata"]["name"] for c in as_agent.list("Cluster").items] == ["cluster-a"]
    finally:
        as_agent.close()
    assert "Bearer token-for-clusterlink-cluster-a-agent" in control.emulated.credentials


@pytest.mark.usefixtures("token_controller")
def test_join_installs_every_kind_in_the_member_and_the_identities_in_the_control_plane(
    control: Cluster, member: Cluster
) -> None:
    _join(control, member)

    member_kinds = {i.kind for i in member.owned("cluster-a")}
    assert member_kinds == {
        "Namespace", "Secret", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
        "Role", "RoleBinding", "Deployment", "DaemonSet",
    }  # fmt: skip
    control_side = control.owned("cluster-a")
    assert ObjectId("Cluster", "cluster-a") in control_side
    assert ObjectId("ServiceAccount", "clusterlink-cluster-a-agent", "kosmos-system") in (
        control_side
    )


@pytest.mark.usefixtures("token_controller")
def test_unjoin_removes_exactly_what_join_created_and_is_idempotent(
    control: Cluster, member: Cluster, emulator: KubeEmulator, tmp_path: Path
) -> None:
    with emulator.clusters(), _cluster(emulator, tmp_path / "other", "cluster-b") as other:
        other.backing.create(node("node1", "10.2.0.0/24"))
        _join(control, other, "cluster-b")
        left_alone = control.owned("cluster-b"), other.owned("cluster-b")
        _join(control, member)
        reporter = RecordingReporter()

        removed = unjoin(control.endpoint, member.endpoint, "cluster-a", reporter)

        assert removed > 0
        assert control.owned("cluster-a") == set()
        assert member.owned("cluster-a") == set()
        assert (control.owned("cluster-b"), other.owned("cluster-b")) == left_alone
        assert member.backing.get("Node", "node1")
        again = RecordingReporter()
        assert unjoin(control.endpoint, member.endpoint, "cluster-a", again) == 0
        assert again.said == ["nothing was left of the join of cluster-a"]


@pytest.mark.usefixtures("token_controller")
def test_a_failed_write_rolls_the_join_back(control: Cluster, member: Cluster) -> None:
    member.emulated.inject(Fault(403, reason="Forbidden", methods=frozenset({"POST"})))

    with pytest.raises(LifecycleError, match="what the join had written was removed"):
        _join(control, member)

    assert control.owned("cluster-a") == set()
    assert member.owned("cluster-a") == set()


def test_join_gives_up_when_no_token_is_issued(control: Cluster, member: Cluster) -> None:
    with pytest.raises(LifecycleError, match="token controller"):
        join(
            control.endpoint,
            member.endpoint,
            JoinOptions(name="cluster-a"),
            RecordingReporter(),
            timeouts=Timeouts(tokens=0.3),
        )

    assert control.owned("cluster-a") == set()


def test_the_preflight_says_when_the_server_answers_no_access_review(
    control: Cluster, member: Cluster
) -> None:
    report = preflight(
        control.endpoint, member.endpoint, JoinOptions(name="cluster-a"), RecordingReporter()
    )

    rbac = [f for f in report.findings if f.check == "rbac"]
    assert [f.severity for f in rbac] == ["warning", "warning"]
    assert "access rights not checked" in rbac[0].message
    assert report.passed
