"""An in-process emulator of the Kubernetes API server's REST interface, for the kube backend.

Why our own: kmock 0.8 (the suggested emulator) keeps objects as plain merged dicts with a
fixed ``resourceVersion`` of ``"..."``: no optimistic concurrency, no watch resume from a
revision, no ``410 Gone``, no label selectors, no status subresource, so most of the store
contract could not run against it.

What it emulates, on 127.0.0.1 only: the API paths of the kinds the store holds (core group
under ``/api/v1``, others under ``/apis/<group>/<version>``, namespaced and cluster-scoped, the
``status`` subresource), the verbs GET/POST/PUT/PATCH/DELETE (DELETE on a collection too, with
``labelSelector``, answering the list of what it deleted), ``application/merge-patch+json``
(other patch types get 415), ``DeleteOptions`` preconditions, ``labelSelector``,
``fieldSelector``, ``limit``/``continue`` paging, ``Status`` error bodies with the API server's
codes and reasons, 422 for a malformed ``resourceVersion`` on a read, lists whose items of
built-in kinds carry no ``kind``/``apiVersion`` (as the real server sends them), DELETE
answering a ``Status`` for built-in kinds and the last object for custom ones, and streaming
watches (chunked JSON lines, ``timeoutSeconds``, a ``BOOKMARK`` when the server ends the
stream, ``410 Gone`` as an in-stream ``ERROR`` event). Faults can be injected per cluster:
error answers (with ``Retry-After``), dropped connections, dropped watch streams. It records
each request and the credentials it carried, and can serve HTTPS with a test certificate and
one cluster at the root path (as in-cluster clients address the API server).

What it cannot check: how a real API server *decides*. Behind the REST layer every write and
watch goes to the sqlite reference store, so the contract tests run against the kube backend
check that it carries each operation to the API and back faithfully, not that Kubernetes
agrees with the contract. Semantics that are the reference store's here, not Kubernetes':
store-owned metadata (uid, creationTimestamp, generation: a real server sets no
``generation`` on core kinds such as Lease and ConfigMap), resourceVersion generation and the
list revision (on a real cluster it is etcd's global revision, moved by every other writer),
validation and its messages, no-op updates, status-subresource rules (a real server resets a
Pod's status on create), finalizer and deletion rules, selector filtering and selector
crossing on watches, and history compaction (etcd compacts by time, here by event count).
Nor does it check authentication (credentials are recorded, not verified), authorization
(RBAC), admission, API discovery, HTTP/2, or paging consistency (a continued list is read
again, not from a snapshot).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from clusterlink.store import (
    DEFAULT_KINDS,
    GoneError,
    KindInfo,
    KindRegistry,
    ObjectStore,
    StoreError,
)
from clusterlink.store.sqlite import SqliteOptions, SqliteStore, SqliteWatch

MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True, slots=True)
class ApiResource:
    """One REST resource: ``builtin`` kinds are listed without per-item ``kind``."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    builtin: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = (
    ApiResource("Cluster", "kosmos.io", "v1alpha1", "clusters", False, False),
    ApiResource("ClusterNode", "kosmos.io", "v1alpha1", "clusternodes", False, False),
    ApiResource("NodeConfig", "kosmos.io", "v1alpha1", "nodeconfigs", False, False),
    ApiResource("IPPool", "crd.projectcalico.org", "v1", "ippools", False, False),
    ApiResource("Node", "", "v1", "nodes", False, True),
    ApiResource("Pod", "", "v1", "pods", True, True),
    ApiResource("Secret", "", "v1", "secrets", True, True),
    ApiResource("ConfigMap", "", "v1", "configmaps", True, True),
    ApiResource("Lease", "coordination.k8s.io", "v1", "leases", True, True),
)

WORKLOAD_RESOURCES = (
    *RESOURCES,
    ApiResource("Namespace", "", "v1", "namespaces", False, True),
    ApiResource("ServiceAccount", "", "v1", "serviceaccounts", True, True),
    ApiResource("Role", "rbac.authorization.k8s.io", "v1", "roles", True, True),
    ApiResource("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", True, True),
    ApiResource("DaemonSet", "apps", "v1", "daemonsets", True, True),
)
"""With ``KubeEmulator(workloads=True)``: also what ``kosmosctl dr`` deploys floaters with.
Nothing acts on them (no RBAC, no DaemonSet controller, no kubelet): a test plays those."""

WORKLOAD_KINDS = KindRegistry.of(
    [
        *DEFAULT_KINDS.by_kind.values(),
        KindInfo("Namespace", "v1", namespaced=False, status_subresource=True),
        KindInfo("ServiceAccount", "v1", namespaced=True, status_subresource=False),
        KindInfo("Role", "rbac.authorization.k8s.io/v1", namespaced=True, status_subresource=False),
        KindInfo(
            "RoleBinding",
            "rbac.authorization.k8s.io/v1",
            namespaced=True,
            status_subresource=False,
        ),
        KindInfo("DaemonSet", "apps/v1", namespaced=True, status_subresource=True),
    ]
)


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected answer: an HTTP ``status`` (with ``retry_after``), or None to hang up."""

    status: int | None
    retry_after: str | None = None
    reason: str = "InjectedFault"
    methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass
class EmulatedCluster:
    """One API server's state: its store, pending faults, what it was asked, open watches."""

    store: SqliteStore
    kubeconfig: Path
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[tuple[str, str]] = field(default_factory=list)
    credentials: set[str] = field(default_factory=set)
    watches: dict[SqliteWatch, socket.socket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, fault: Fault, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([fault] * times)

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            if self.faults and method in self.faults[0].methods:
                return self.faults.popleft()
            return None

    def drop_watches(self) -> int:
        """Cut every open watch stream mid-flight, as a restarting API server would."""
        with self.lock:
            open_watches = list(self.watches.items())
        for watch, connection in open_watches:
            watch.stop()
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return len(open_watches)

    def seen(self, method: str, path_suffix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.endswith(path_suffix))


class _StatusError(Exception):
    """An API error answer, as the Status body the real server would send."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def _status(code: int, reason: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


@dataclass(frozen=True, slots=True)
class _Route:
    """What a request path names."""

    cluster: EmulatedCluster
    resource: ApiResource
    namespace: str | None
    name: str | None
    subresource: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: KubeEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on recorded requests instead."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # --- dispatch ------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = self._read_body()
        emulator = cast(_Server, self.server).emulator
        try:
            route = emulator.route(parts.path)
            with route.cluster.lock:
                route.cluster.requests.append((method, parts.path))
                route.cluster.credentials.add(self.headers.get("Authorization", ""))
            fault = route.cluster.take_fault(method)
            if fault is not None:
                self._fail_with(fault)
                return
            if method == "GET" and route.name is None and query.get("watch") in ("true", "1"):
                self._watch(route, query)
                return
            code, answer = self._dispatch(method, route, query, body)
        except _StatusError as failure:
            code, answer = failure.code, _status(failure.code, failure.reason, failure.message, {})
        except StoreError as error:
            code = error.code
            answer = _status(error.code, error.reason, str(error), {"name": error.name})
        self._send_json(code, answer)

    def _dispatch(
        self, method: str, route: _Route, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        store: ObjectStore = route.cluster.store
        resource = route.resource
        namespace = route.namespace or ""
        if route.name is None:
            if method == "GET":
                return 200, self._list(route, query)
            if method == "POST" and route.subresource is None:
                return 201, store.create(self._object_for(route, _json(body)))
            if method == "DELETE" and (route.namespace is not None or not resource.namespaced):
                return 200, self._delete_collection(route, query)
            raise _StatusError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
        if route.subresource not in (None, "status"):
            raise _StatusError(404, "NotFound", f"no subresource {route.subresource!r}")
        status = route.subresource == "status"
        if method == "GET":
            return 200, store.get(resource.kind, route.name, namespace)
        if method == "PUT":
            sent = self._object_for(route, _json(body))
            return 200, store.update_status(sent) if status else store.update(sent)
        if method == "PATCH":
            content_type = self.headers.get("Content-Type", "")
            if content_type.split(";")[0].strip() != MERGE_PATCH:
                raise _StatusError(415, "UnsupportedMediaType", f"patch type {content_type!r}")
            patch = _json(body)
            if status:
                return 200, store.patch_status(resource.kind, route.name, patch, namespace)
            return 200, store.patch(resource.kind, route.name, patch, namespace)
        if method == "DELETE" and not status:
            return 200, self._delete(route, _json(body) if body else {})
        raise _StatusError(405, "MethodNotAllowed", f"{method} is not allowed here")

    # --- operations ----------------------------------------------------------------------

    def _list(self, route: _Route, query: dict[str, str]) -> dict[str, Any]:
        _check_resource_version(query.get("resourceVersion", ""))
        resource = route.resource
        listed = route.cluster.store.list(
            resource.kind,
            namespace=route.namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
        )
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0)
        end = start + limit if limit else len(listed.items)
        items = [dict(item) for item in listed.items[start:end]]
        if resource.builtin:
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        metadata: dict[str, Any] = {"resourceVersion": listed.resource_version}
        if end < len(listed.items):
            metadata["continue"] = str(end)
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _delete(self, route: _Route, options: dict[str, Any]) -> dict[str, Any]:
        store = route.cluster.store
        kind, name, namespace = route.resource.kind, cast(str, route.name), route.namespace or ""
        before = store.get(kind, name, namespace)
        precondition = (options.get("preconditions") or {}).get("resourceVersion") or ""
        marked = store.delete(kind, name, namespace, resource_version=precondition)
        if marked is not None:
            return marked
        if route.resource.builtin:
            details = {"name": name, "kind": route.resource.plural}
            return _status(200, "", "", details) | {"status": "Success"}
        return before

    def _delete_collection(self, route: _Route, query: dict[str, str]) -> dict[str, Any]:
        """The matching objects as they were, deleted in one store transaction (the list and
        the delete are not atomic here: tests do not race them)."""
        if query.get("fieldSelector"):
            raise _StatusError(400, "BadRequest", "the emulator takes no fieldSelector here")
        store = route.cluster.store
        resource = route.resource
        selector = query.get("labelSelector", "")
        namespace = route.namespace or ""
        listed = store.list(resource.kind, namespace=namespace, label_selector=selector)
        store.delete_collection(resource.kind, namespace, label_selector=selector)
        items = [dict(item) for item in listed.items]
        if resource.builtin:
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": listed.resource_version},
            "items": items,
        }

    def _watch(self, route: _Route, query: dict[str, str]) -> None:
        resource_version = query.get("resourceVersion", "")
        _check_resource_version(resource_version)
        cluster = route.cluster
        watch = cluster.store.watch(
            route.resource.kind,
            namespace=route.namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            resource_version=resource_version,
            timeout_seconds=float(query.get("timeoutSeconds") or 1800),
        )
        with cluster.lock:
            cluster.watches[watch] = self.connection
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            try:
                for event in watch:
                    self._chunk({"type": event.type, "object": event.object})
                if query.get("allowWatchBookmarks") == "true":
                    bookmark = {
                        "kind": route.resource.kind,
                        "apiVersion": route.resource.api_version,
                        "metadata": {"resourceVersion": watch.resource_version},
                    }
                    self._chunk({"type": "BOOKMARK", "object": bookmark})
            except GoneError as gone:
                self._chunk({"type": "ERROR", "object": _status(410, "Expired", str(gone), {})})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            watch.stop()
            with cluster.lock:
                cluster.watches.pop(watch, None)

    # --- plumbing ------------------------------------------------------------------------

    def _object_for(self, route: _Route, sent: dict[str, Any]) -> dict[str, Any]:
        metadata = sent.setdefault("metadata", {})
        if route.name is not None and metadata.get("name") != route.name:
            raise _StatusError(
                400,
                "BadRequest",
                f"the name of the object ({metadata.get('name')}) does not match the name "
                f"on the URL ({route.name})",
            )
        if route.resource.namespaced:
            metadata.setdefault("namespace", route.namespace)
            if metadata["namespace"] != route.namespace:
                raise _StatusError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
        return sent

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _fail_with(self, fault: Fault) -> None:
        if fault.status is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        answer = _status(fault.status, fault.reason, "injected by the test", {})
        extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        self._send_json(fault.status, answer, extra)

    def _send_json(
        self, code: int, answer: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _chunk(self, event: dict[str, Any]) -> None:
        line = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()


def _json(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body or b"{}")
    except ValueError as exc:
        raise _StatusError(400, "BadRequest", f"the body is not JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise _StatusError(400, "BadRequest", "the body is not a JSON object")
    return decoded


def _check_resource_version(text: str) -> None:
    if text and not text.isdigit():
        raise _StatusError(
            422,
            "Invalid",
            f'resourceVersion: Invalid value: "{text}": strconv.ParseUint: parsing '
            f'"{text}": invalid syntax',
        )


class KubeEmulator:
    """API servers for many emulated clusters behind one port, ``/clusters/<id>/...`` each."""

    def __init__(self, tls: ssl.SSLContext | None = None, *, workloads: bool = False) -> None:
        self._resources = WORKLOAD_RESOURCES if workloads else RESOURCES
        self._kinds = WORKLOAD_KINDS if workloads else DEFAULT_KINDS
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.emulator = self
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._root: EmulatedCluster | None = None
        self._clusters: dict[str, EmulatedCluster] = {}
        self._by_directory: dict[Path, str] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @classmethod
    @contextlib.contextmanager
    def serving(
        cls, tls: ssl.SSLContext | None = None, *, workloads: bool = False
    ) -> Iterator[KubeEmulator]:
        """A running emulator; with ``tls``, over HTTPS with that server context; with
        ``workloads``, serving :data:`WORKLOAD_RESOURCES` too."""
        emulator = cls(tls, workloads=workloads)
        emulator._thread.start()
        try:
            yield emulator
        finally:
            emulator.close()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def serve_at_root(self, cluster: EmulatedCluster) -> None:
        """Also serve ``cluster`` without a ``/clusters/<id>`` prefix, as in-cluster clients
        (which know only a host and a port) address it."""
        with self._lock:
            self._root = cluster

    def cluster_in(self, directory: Path, history: int | None = None) -> EmulatedCluster:
        """The emulated cluster whose kubeconfig lives in ``directory``, made on first use."""
        with self._lock:
            known = self._by_directory.get(directory)
            if known is not None:
                return self._clusters[known]
            cluster_id = uuid.uuid4().hex
            options = SqliteOptions(poll_interval=0.01)
            if history is not None:
                options = SqliteOptions(
                    poll_interval=0.01, history_events=history, history_seconds=0
                )
            kubeconfig = directory / "kubeconfig"
            _write_kubeconfig(kubeconfig, f"{self.address}/clusters/{cluster_id}")
            store = SqliteStore(directory / "emulated.db", options, kinds=self._kinds)
            cluster = EmulatedCluster(store, kubeconfig)
            self._clusters[cluster_id] = cluster
            self._by_directory[directory] = cluster_id
            return cluster

    def url_for(self, directory: Path, history: int | None) -> str:
        """A ``kube://`` URL to the cluster of ``directory``, tuned for quick tests."""
        cluster = self.cluster_in(directory, history)
        return f"kube://{cluster.kubeconfig}?qps=0&backoff=0.01&max_backoff=0.05"

    def forget(self, directory: Path) -> None:
        """Close the cluster of ``directory``: its watches end and its store closes."""
        with self._lock:
            cluster_id = self._by_directory.pop(directory, None)
            cluster = self._clusters.pop(cluster_id, None) if cluster_id else None
        if cluster is not None:
            cluster.drop_watches()
            cluster.store.close()

    @contextlib.contextmanager
    def clusters(self) -> Iterator[KubeEmulator]:
        """This emulator, forgetting at exit every cluster made inside the block."""
        with self._lock:
            before = set(self._by_directory)
        try:
            yield self
        finally:
            with self._lock:
                made = set(self._by_directory) - before
            for directory in made:
                self.forget(directory)

    def route(self, path: str) -> _Route:
        segments = [segment for segment in path.split("/") if segment]
        with self._lock:
            root = self._root
        if segments[:1] != ["clusters"] and root is not None:
            cluster, rest = root, segments
        else:
            if len(segments) < 2 or segments[0] != "clusters":
                raise _StatusError(404, "NotFound", f"no cluster at {path!r}")
            with self._lock:
                found = self._clusters.get(segments[1])
            if found is None:
                raise _StatusError(404, "NotFound", f"no cluster {segments[1]!r}")
            cluster, rest = found, segments[2:]
        if rest[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", rest[2:]
        elif rest[:1] == ["apis"] and len(rest) >= 3:
            group, version, rest = rest[1], rest[2], rest[3:]
        else:
            raise _StatusError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise _StatusError(404, "NotFound", "the server could not find the requested resource")
        resource = next(
            (
                r
                for r in self._resources
                if (r.group, r.version, r.plural) == (group, version, rest[0])
            ),
            None,
        )
        if resource is None or (namespace is not None and not resource.namespaced):
            raise _StatusError(404, "NotFound", "the server could not find the requested resource")
        if resource.namespaced and namespace is None and len(rest) > 1:
            raise _StatusError(404, "NotFound", "a namespaced object's path names its namespace")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        return _Route(cluster, resource, namespace, name, subresource)

    def close(self) -> None:
        with self._lock:
            clusters = list(self._clusters.values())
            self._clusters.clear()
            self._by_directory.clear()
        for cluster in clusters:
            cluster.drop_watches()
        self._server.shutdown()
        self._server.server_close()
        for cluster in clusters:
            cluster.store.close()


def _write_kubeconfig(path: Path, server: str, context: str = "emulated") -> None:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": context, "cluster": {"server": server}}],
                "users": [{"name": context, "user": {"token": "emulated-token"}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
                "current-context": context,
            }
        )
    )
