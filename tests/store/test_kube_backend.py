"""Behaviour specific to the kube backend: choosing the server, rate limits, retries, streams.

The shared contract suite runs against the kube backend too; these tests cover what only
a client of a remote API server has: kubeconfig contexts and in-cluster credentials, the
client-side rate limit, retries on transient failures, and watches that survive a server
cutting their stream.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clusterlink.store import (
    InvalidError,
    NotFoundError,
    ObjectStore,
    UnavailableError,
    open_store,
)
from clusterlink.store.kube import ForbiddenError, KubeOptions, KubeStore, parse_kube_url
from clusterlink.store.kube.config import load_config
from clusterlink.store.kube.transport import TokenBucket

from .builders import WAIT_SECONDS, cluster, config_map, summary, take
from .kube_emulator import EmulatedCluster, Fault, KubeEmulator

QUICK = "qps=0&backoff=0.01&max_backoff=0.02"


@pytest.fixture
def emulated(kube_emulator: KubeEmulator, tmp_path: Path) -> Iterator[EmulatedCluster]:
    with kube_emulator.clusters():
        yield kube_emulator.cluster_in(tmp_path)


@pytest.fixture
def kube(emulated: EmulatedCluster) -> Iterator[ObjectStore]:
    store = open_store(f"kube://{emulated.kubeconfig}?{QUICK}")
    yield store
    store.close()


def two_context_kubeconfig(path: Path, live_server: str) -> Path:
    """A kubeconfig whose current context points at a closed port, and a ``live`` one."""
    config = json.loads(Path(path.parent / "kubeconfig").read_text())
    config["clusters"].append({"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"] = [
        {"name": "live", "context": {"cluster": "emulated", "user": "emulated"}},
        {"name": "dead", "context": {"cluster": "dead", "user": "emulated"}},
    ]
    config["current-context"] = "dead"
    path.write_text(json.dumps(config))
    assert live_server in path.read_text()
    return path


def eventually(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within :data:`WAIT_SECONDS`, polling it."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.02)
    return True


# --- choosing the API server -------------------------------------------------------------


def test_the_context_option_selects_the_kubeconfig_context(
    emulated: EmulatedCluster, kube_emulator: KubeEmulator
) -> None:
    kubeconfig = two_context_kubeconfig(emulated.kubeconfig.parent / "two", kube_emulator.address)
    live = open_store(f"kube://{kubeconfig}?context=live&{QUICK}")
    dead = open_store(f"kube://{kubeconfig}?retries=0")
    try:
        live.create(cluster("cluster-a"))

        assert emulated.store.get("Cluster", "cluster-a")
        with pytest.raises(UnavailableError, match="cannot reach the API server"):
            dead.get("Cluster", "cluster-a")
    finally:
        live.close()
        dead.close()


def test_without_a_path_the_store_uses_the_kubeconfig_env_variable(
    emulated: EmulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(emulated.kubeconfig))
    store = open_store("kube://")
    try:
        store.create(config_map("settings", {"a": "1"}))
    finally:
        store.close()

    assert emulated.store.get("ConfigMap", "settings", "kosmos-system")["data"] == {"a": "1"}


def test_in_cluster_config_uses_the_service_account_token_and_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("secret-token")
    (account / "namespace").write_text("kosmos-system")
    (account / "ca.crt").write_text("unused here")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    config = load_config(
        "kube://in-cluster", parse_kube_url("kube://in-cluster"), service_account=account
    )

    assert config.cluster.server == "https://10.96.0.1:443"
    assert config.cluster.certificate_auth == str(account / "ca.crt")
    assert config.user is not None
    assert config.user.token_file == str(account / "token")
    assert config.namespace == "kosmos-system"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    certificate, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return certificate, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_in_cluster_the_store_speaks_tls_with_the_service_account_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate, key = self_signed_certificate(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, key)
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("pod-token")
    (account / "namespace").write_text("kosmos-system")
    shutil.copy(certificate, account / "ca.crt")
    (tmp_path / "cluster").mkdir()

    with KubeEmulator.serving(tls) as emulator:
        emulated = emulator.cluster_in(tmp_path / "cluster")
        emulator.serve_at_root(emulated)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(emulator.port))
        store = KubeStore("kube://in-cluster?qps=0", service_account=account)
        try:
            store.create(config_map("settings", {"a": "1"}))
            read = store.get("ConfigMap", "settings", "kosmos-system")
        finally:
            store.close()

    assert read["data"] == {"a": "1"}
    assert emulated.credentials == {"Bearer pod-token"}


def test_requests_carry_the_kubeconfig_users_token(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    kube.list("Cluster")

    assert emulated.credentials == {"Bearer emulated-token"}


def test_in_cluster_outside_a_pod_fails_naming_the_url(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match="'kube://in-cluster'"):
        load_config(
            "kube://in-cluster", parse_kube_url("kube://in-cluster"), service_account=tmp_path
        )


def test_options_are_read_from_the_url() -> None:
    location = parse_kube_url("kube:///etc/kube/member.yaml?context=m&qps=5&burst=7&retries=1")

    assert location.kubeconfig == Path("/etc/kube/member.yaml")
    assert location.context == "m"
    assert location.options == KubeOptions(qps=5, burst=7, retries=1)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("kube:///x/config?qpss=1", "unknown option 'qpss'"),
        ("kube:///x/config?qps=fast", "not a number"),
        ("kube:///x/config?burst=0", "out of range"),
        ("kube://in-cluster?context=a", "no contexts"),
        ("kube:///no/such/kubeconfig", "no kubeconfig file"),
    ],
)
def test_unusable_urls_fail_naming_the_url(url: str, complaint: str) -> None:
    with pytest.raises(InvalidError) as raised:
        open_store(url)

    assert repr(url) in str(raised.value)
    assert complaint in str(raised.value)


def test_an_unknown_context_fails_naming_it(emulated: EmulatedCluster) -> None:
    with pytest.raises(InvalidError, match="'elsewhere'"):
        open_store(f"kube://{emulated.kubeconfig}?context=elsewhere")


# --- rate limit --------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def read(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_token_bucket_allows_a_burst_then_paces_requests() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock.read, sleep=clock.sleep)

    for _ in range(5):
        bucket.acquire()

    assert clock.slept == pytest.approx([0.1, 0.1])


def test_the_token_bucket_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=2, clock=clock.read, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()

    clock.now += 60
    for _ in range(3):
        bucket.acquire()

    assert clock.slept == pytest.approx([0.1])


def test_a_zero_qps_disables_the_limit() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=0, burst=1, clock=clock.read, sleep=clock.sleep)

    for _ in range(100):
        bucket.acquire()

    assert clock.slept == []


# --- retries -----------------------------------------------------------------------------


def test_throttled_requests_are_retried_after_the_servers_delay(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    kube.create(cluster("cluster-a"))
    emulated.inject(Fault(429, retry_after="0", reason="TooManyRequests"), times=2)

    assert kube.get("Cluster", "cluster-a")["metadata"]["name"] == "cluster-a"
    assert emulated.seen("GET", "/clusters/cluster-a") == 3


def test_a_write_refused_with_retry_after_is_retried(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    emulated.inject(Fault(503, retry_after="0", reason="ServiceUnavailable"))

    kube.create(cluster("cluster-a"))

    assert emulated.seen("POST", "/clusters") == 2


def test_a_write_failing_without_retry_after_is_not_repeated(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    emulated.inject(Fault(500, reason="InternalError"))

    with pytest.raises(UnavailableError, match="HTTP 500, reason InternalError"):
        kube.create(cluster("cluster-a"))
    assert emulated.seen("POST", "/clusters") == 1


def test_a_read_whose_connection_drops_is_retried(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    kube.create(cluster("cluster-a"))
    emulated.inject(Fault(None, methods=frozenset({"GET"})))

    assert kube.get("Cluster", "cluster-a")["metadata"]["name"] == "cluster-a"
    assert emulated.seen("GET", "/clusters/cluster-a") == 2


def test_retries_end_with_an_unavailable_error(emulated: EmulatedCluster) -> None:
    store = open_store(f"kube://{emulated.kubeconfig}?{QUICK}&retries=2")
    emulated.inject(Fault(500, reason="InternalError"), times=5)
    try:
        with pytest.raises(UnavailableError) as raised:
            store.get("Cluster", "cluster-a")
    finally:
        store.close()

    assert emulated.seen("GET", "/clusters/cluster-a") == 3
    assert raised.value.name == "cluster-a"


# --- errors, lists, deletes --------------------------------------------------------------


def test_a_forbidden_request_names_the_object_and_the_reason(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    emulated.inject(Fault(403, reason="Forbidden"))

    with pytest.raises(ForbiddenError) as raised:
        kube.get("ConfigMap", "settings", "kosmos-system")

    assert (raised.value.code, raised.value.kind, raised.value.name) == (
        403,
        "ConfigMap",
        "settings",
    )
    assert raised.value.namespace == "kosmos-system"
    assert "reason Forbidden" in str(raised.value)


def test_long_lists_are_read_in_pages(emulated: EmulatedCluster) -> None:
    store = open_store(f"kube://{emulated.kubeconfig}?{QUICK}&page_size=2")
    try:
        for name in ("a", "b", "c", "d", "e"):
            store.create(cluster(name))

        listed = store.list("Cluster")
    finally:
        store.close()

    assert [item["metadata"]["name"] for item in listed.items] == ["a", "b", "c", "d", "e"]
    assert emulated.seen("GET", "/apis/kosmos.io/v1alpha1/clusters") == 3


def test_listed_core_objects_get_their_kind_and_api_version(kube: ObjectStore) -> None:
    kube.create(config_map("settings", {}))

    (item,) = kube.list("ConfigMap").items

    assert (item["apiVersion"], item["kind"]) == ("v1", "ConfigMap")


def test_deleting_a_core_object_answered_with_a_status_returns_none(kube: ObjectStore) -> None:
    kube.create(config_map("settings", {}))

    assert kube.delete("ConfigMap", "settings", "kosmos-system") is None
    with pytest.raises(NotFoundError):
        kube.get("ConfigMap", "settings", "kosmos-system")


def test_a_collection_is_deleted_with_one_request(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    for name in ("run1-a", "run1-b", "run1-c"):
        document = config_map(name, {})
        document["metadata"]["labels"] = {"run": "1"}
        kube.create(document)

    assert kube.delete_collection("ConfigMap", "kosmos-system", label_selector="run=1") == 3
    assert emulated.seen("DELETE", "/api/v1/namespaces/kosmos-system/configmaps") == 1
    assert emulated.seen("DELETE", "/configmaps/run1-a") == 0
    assert kube.list("ConfigMap").items == ()


# --- watches -----------------------------------------------------------------------------


def test_a_watch_whose_stream_is_cut_resumes_without_loss_or_repeat(
    kube: ObjectStore, emulated: EmulatedCluster
) -> None:
    start = kube.list("Cluster").resource_version
    with kube.watch("Cluster", resource_version=start, timeout_seconds=WAIT_SECONDS) as watch:
        kube.create(cluster("a"))
        before = take(watch, 1)
        assert emulated.drop_watches() == 1
        kube.create(cluster("b"))
        kube.create(cluster("c"))

        after = take(watch, 2)

    assert summary(before + after) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    assert emulated.seen("GET", "/apis/kosmos.io/v1alpha1/clusters") >= 3


def test_a_bookmark_moves_an_idle_watch_past_other_kinds_writes(
    emulated: EmulatedCluster,
) -> None:
    store = open_store(f"kube://{emulated.kubeconfig}?{QUICK}&watch_seconds=1")
    try:
        start = store.list("Lease").resource_version
        head = store.create(config_map("noise", {}))["metadata"]["resourceVersion"]
        watch = store.watch("Lease", resource_version=start, timeout_seconds=WAIT_SECONDS)
        consumer = threading.Thread(target=lambda: list(watch))
        consumer.start()
        moved = eventually(lambda: watch.resource_version == head)
        watch.stop()
        consumer.join(WAIT_SECONDS)
    finally:
        store.close()

    assert moved
    assert not consumer.is_alive()
