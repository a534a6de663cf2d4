"""Objects and helpers shared by the contract tests."""

from __future__ import annotations

from typing import Any

from clusterlink.store import Watch, WatchEvent

# Upper bound on every wait for an event: a broken backend fails the test instead of hanging.
WAIT_SECONDS = 10.0


def cluster(
    name: str, labels: dict[str, str] | None = None, spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec if spec is not None else {"clusterLinkOptions": {"networkType": "p2p"}},
    }


def config_map(name: str, data: dict[str, str], namespace: str = "kosmos-system") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def lease(name: str, holder: str, namespace: str = "kosmos-system") -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15},
    }


def node(name: str, address: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"podCIDRs": ["10.0.0.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }


def take(watch: Watch, count: int) -> list[WatchEvent]:
    """The next ``count`` events, or fewer if the watch ends first (its timeout bounds this)."""
    events: list[WatchEvent] = []
    for event in watch:
        events.append(event)
        if len(events) == count:
            break
    return events


def summary(events: list[WatchEvent]) -> list[tuple[str, str]]:
    return [(event.type, event.object["metadata"]["name"]) for event in events]
