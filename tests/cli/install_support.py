"""Clusters for the install/join tests: sqlite stores seeded as kubelets would, a
:class:`~clusterlink.deploy.lifecycle.Reporter` that records, and an in-memory target for
the kinds neither the store nor the HTTP emulator serves (Namespace, RBAC, workloads)."""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from clusterlink.cli.kosmosctl import main
from clusterlink.deploy.applier import Applied
from clusterlink.deploy.targets import KIND_ORDER, ObjectId, ObjectTarget
from clusterlink.store import DEFAULT_KINDS, open_store
from clusterlink.store.label_selectors import parse_label_selector


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}?poll_interval=0.01"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def node(name: str, *pod_cidrs: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"podCIDR": pod_cidrs[0], "podCIDRs": list(pod_cidrs)},
    }


def member_with_nodes(path: Path, *pod_cidrs: str) -> str:
    """A member cluster's store with one Node per pod CIDR; returns its URL."""
    url = sqlite_url(path)
    store = open_store(url)
    try:
        for index, cidr in enumerate(pod_cidrs):
            store.create(node(f"node{index + 1}", cidr))
    finally:
        store.close()
    return url


def snapshot(url: str) -> set[tuple[str, str, str]]:
    """Every object in a store, as (kind, namespace, name)."""
    store = open_store(url)
    try:
        return {
            (kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            for kind in DEFAULT_KINDS.by_kind
            for obj in store.list(kind).items
        }
    finally:
        store.close()


def read(url: str, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    store = open_store(url)
    try:
        return store.get(kind, name, namespace)
    finally:
        store.close()


@dataclass
class RecordingReporter:
    steps: list[str] = field(default_factory=list)
    done: list[tuple[str, Applied]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def step(self, text: str) -> AbstractContextManager[None]:
        self.steps.append(text)
        return contextlib.nullcontext()

    def applied(self, where: str, applied: Applied) -> None:
        self.done.append((where, applied))

    def say(self, text: str) -> None:
        self.said.append(text)

    def verbs(self, where: str) -> dict[str, str]:
        return {str(a.target): a.verb for w, a in self.done if w == where}


@dataclass
class MemoryTarget:
    """A cluster's API reduced to a dict, for the kinds no test server serves."""

    kinds: frozenset[str] = frozenset(KIND_ORDER)
    objects: dict[ObjectId, dict[str, Any]] = field(default_factory=dict)
    versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def description(self) -> str:
        return "memory"

    def holds(self, kind: str) -> bool:
        return kind in self.kinds

    def get(self, target: ObjectId) -> dict[str, Any] | None:
        found = self.objects.get(target)
        return copy.deepcopy(found) if found is not None else None

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        identity = ObjectId.of(obj)
        assert identity not in self.objects, f"{identity} exists"
        return self._store(identity, obj)

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        identity = ObjectId.of(obj)
        current = self.objects[identity]
        assert obj["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]
        return self._store(identity, obj)

    def delete(self, target: ObjectId) -> bool:
        return self.objects.pop(target, None) is not None

    def list_labelled(self, kind: str, label_selector: str) -> list[dict[str, Any]]:
        selector = parse_label_selector(label_selector)
        return [
            copy.deepcopy(o)
            for i, o in self.objects.items()
            if i.kind == kind and selector.matches(o["metadata"].get("labels") or {})
        ]

    def close(self) -> None:
        return None

    def _store(self, identity: ObjectId, obj: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(obj))
        stored["metadata"]["resourceVersion"] = str(next(self.versions))
        self.objects[identity] = stored
        return copy.deepcopy(stored)


@dataclass
class RoutedTarget:
    """Kinds ``served`` go to ``server`` (the HTTP emulator), the rest to ``rest``."""

    server: Any
    rest: MemoryTarget
    served: frozenset[str] = frozenset({"Secret", "Cluster"})

    @property
    def description(self) -> str:
        return str(self.server.description)

    def _for(self, kind: str) -> ObjectTarget:
        chosen: ObjectTarget = self.server if kind in self.served else self.rest
        return chosen

    def holds(self, kind: str) -> bool:
        return self._for(kind).holds(kind)

    def get(self, target: ObjectId) -> dict[str, Any] | None:
        return self._for(target.kind).get(target)

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._for(obj["kind"]).create(obj)

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._for(obj["kind"]).replace(obj)

    def delete(self, target: ObjectId) -> bool:
        return self._for(target.kind).delete(target)

    def list_labelled(self, kind: str, label_selector: str) -> list[dict[str, Any]]:
        return self._for(kind).list_labelled(kind, label_selector)

    def review_access(self, attributes: Mapping[str, str]) -> bool:
        return bool(self.server.review_access(attributes))

    def close(self) -> None:
        self.server.close()
