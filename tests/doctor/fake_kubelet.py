"""A test-side DaemonSet controller and kubelets for one emulated cluster.

``kosmosctl dr --src-kubeconfig`` deploys floater DaemonSets into the HTTP Kubernetes
emulator; nothing there runs them. :class:`FakeKubelet` does, as Kubernetes would: for each
DaemonSet it reports ``desiredNumberScheduled`` (the fake nodes its required node affinity
accepts), creates a Pod per such node, and starts an in-process floater for it. The floater
gets its identity the way the real one does: the container's command and environment
(downward-API fields resolved for that pod) are parsed by the ``clusterlink floater`` CLI
itself. Only the port (0, any free one: tests share a host) and the store (the emulated
cluster's kube URL in place of ``kube://in-cluster``) differ. When a DaemonSet is deleted,
its floaters stop (deregistering) and its pods go.

Addresses are loopback ones (``127.0.x.y``), so every probe stays on this host.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import click

from clusterlink.cli.components import main as clusterlink_cli
from clusterlink.floater.daemon import Floater
from clusterlink.floater.messages import APP as FLOATER_APP
from clusterlink.floater.messages import FloaterInfo
from clusterlink.store import NotFoundError, ObjectStore, StoreError

POLL = 0.05
_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class FakeNode:
    name: str
    pod_address: str
    host_address: str
    labels: Mapping[str, str] = field(default_factory=dict)


def _matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise AssertionError(f"the fake scheduler does not know operator {operator}")


def schedulable(pod_spec: Mapping[str, Any], node: FakeNode) -> bool:
    """Whether the pod's required node affinity accepts the node (terms OR, expressions AND)."""
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(
        all(_matches(e, node.labels) for e in term.get("matchExpressions") or []) for term in terms
    )


def _field(path: str, pod: Mapping[str, Any], node: FakeNode) -> str:
    values = {
        "metadata.name": pod["metadata"]["name"],
        "metadata.namespace": pod["metadata"]["namespace"],
        "spec.nodeName": node.name,
        "status.podIPs": node.pod_address,
        "status.hostIPs": node.host_address,
    }
    return values[path]


def container_environment(
    container: Mapping[str, Any], pod: Mapping[str, Any], node: FakeNode
) -> dict[str, str]:
    env: dict[str, str] = {}
    for variable in container.get("env") or []:
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        else:
            env[variable["name"]] = _field(
                variable["valueFrom"]["fieldRef"]["fieldPath"], pod, node
            )
    return env


def floater_identity(
    container: Mapping[str, Any], pod: Mapping[str, Any], node: FakeNode
) -> tuple[FloaterInfo, str]:
    """(who the floater is, its namespace), as ``clusterlink floater`` parses its command
    line and environment."""
    program, subcommand, *arguments = container["command"]
    assert (program, subcommand) == ("clusterlink", "floater")
    command = clusterlink_cli.get_command(click.Context(clusterlink_cli), subcommand)
    assert command is not None
    env = container_environment(container, pod, node)
    with _ENV_LOCK, mock.patch.dict(os.environ, env):
        params = command.make_context(subcommand, list(arguments)).params
    info = FloaterInfo(
        params["name"], params["cluster"], params["node"], params["network"], params["addresses"]
    )
    return info, str(params["namespace"])


@dataclass
class _Running:
    pod: str
    namespace: str
    daemon_set: str
    floater: Floater | None


class FakeKubelet:
    """Runs the floater DaemonSets (``app=clusterlink-floater``) of one emulated cluster on
    ``nodes``; other DaemonSets (an installed agent) are left alone.

    ``backing`` is the emulator's own store of that cluster (what the fake controllers
    see), ``floater_store`` the kube store floaters register through. With
    ``image_pulls=False`` pods are created but stay in ``ImagePullBackOff``.
    """

    def __init__(
        self,
        backing: ObjectStore,
        floater_store: ObjectStore,
        nodes: Sequence[FakeNode],
        *,
        image_pulls: bool = True,
    ) -> None:
        self.backing = backing
        self.floater_store = floater_store
        self.nodes = tuple(nodes)
        self.image_pulls = image_pulls
        self.started: list[FloaterInfo] = []
        self.errors: list[str] = []
        self._running: dict[tuple[str, str], _Running] = {}  # (daemon set uid, node)
        self._stopping = threading.Event()
        self._passes = 0
        self._passed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="fake-kubelet", daemon=True)

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(10)
        for running in self._running.values():
            if running.floater is not None:
                running.floater.stop()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.reconcile()
            except StoreError as exc:
                self.errors.append(str(exc))
            with self._passed:
                self._passes += 1
                self._passed.notify_all()
            self._stopping.wait(POLL)

    def settle(self, timeout: float = 10.0) -> None:
        """Return once a whole pass has run since this call.

        A DaemonSet deleted while a pass was creating its pods leaves those pods until the
        next pass, as Kubernetes' garbage collector removes pods created for a DaemonSet
        that is gone.
        """
        with self._passed:
            after = self._passes + 2  # the pass under way may have begun before the call
            if not self._passed.wait_for(lambda: self._passes >= after, timeout):
                raise AssertionError(f"the fake kubelet finished no pass in {timeout} s")

    def reconcile(self) -> None:
        live: set[tuple[str, str]] = set()
        listed = self.backing.list("DaemonSet", label_selector=f"app={FLOATER_APP}")
        for daemon_set in listed.items:
            live |= self._run(daemon_set)
        for key in set(self._running) - live:
            self._remove(self._running.pop(key))

    def _run(self, daemon_set: dict[str, Any]) -> set[tuple[str, str]]:
        metadata = daemon_set["metadata"]
        template = daemon_set["spec"]["template"]
        nodes = [n for n in self.nodes if schedulable(template["spec"], n)]
        status = {
            "observedGeneration": metadata["generation"],
            "desiredNumberScheduled": len(nodes),
            "currentNumberScheduled": len(nodes),
            "numberReady": len(nodes) if self.image_pulls else 0,
        }
        if (daemon_set.get("status") or {}) != status:
            self.backing.patch_status(
                "DaemonSet", metadata["name"], {"status": status}, metadata["namespace"]
            )
        keys = set()
        for node in nodes:
            key = (metadata["uid"], node.name)
            keys.add(key)
            if key not in self._running:
                self._running[key] = self._start(daemon_set, node)
        return keys

    def _start(self, daemon_set: dict[str, Any], node: FakeNode) -> _Running:
        metadata = daemon_set["metadata"]
        template = daemon_set["spec"]["template"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{metadata['name']}-{secrets.token_hex(3)}",
                "namespace": metadata["namespace"],
                "labels": dict(template["metadata"]["labels"]),
            },
            "spec": {**template["spec"], "nodeName": node.name},
            "status": self._pod_status(node),
        }
        self.backing.create(pod)
        floater = None
        if self.image_pulls:
            (container,) = template["spec"]["containers"]
            info, namespace = floater_identity(container, pod, node)
            info = FloaterInfo(info.name, info.cluster, info.node, info.network, info.addresses, 0)
            floater = Floater(self.floater_store, info, namespace, max_concurrency=8)
            floater.start()
            self.started.append(floater.info)
        return _Running(pod["metadata"]["name"], metadata["namespace"], metadata["name"], floater)

    def _pod_status(self, node: FakeNode) -> dict[str, Any]:
        addresses = {
            "podIP": node.pod_address,
            "podIPs": [{"ip": node.pod_address}],
            "hostIP": node.host_address,
            "hostIPs": [{"ip": node.host_address}],
        }
        if self.image_pulls:
            ready = {"type": "Ready", "status": "True"}
            return {"phase": "Running", "conditions": [ready], **addresses}
        waiting = {
            "reason": "ImagePullBackOff",
            "message": "Back-off pulling image (the fake kubelet pulls nothing)",
        }
        return {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {"name": "floater", "ready": False, "state": {"waiting": waiting}}
            ],
            **addresses,
        }

    def _remove(self, running: _Running) -> None:
        if running.floater is not None:
            running.floater.stop()
        with contextlib.suppress(NotFoundError):
            self.backing.delete("Pod", running.pod, running.namespace)
