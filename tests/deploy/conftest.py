"""The manifests under test: one control plane and one member, with placeholder kubeconfigs."""

from __future__ import annotations

from typing import Any

import pytest

from clusterlink.deploy import (
    DeploySettings,
    control_plane_manifests,
    member_identity_manifests,
    member_manifests,
)

MEMBER = "cluster-a"
KUBECONFIGS = {
    component: f"# kubeconfig of {component}\n"
    for component in ("agent", "elector", "controller-manager")
}


def every_manifest(settings: DeploySettings | None = None) -> list[dict[str, Any]]:
    return [
        *control_plane_manifests(settings),
        *member_identity_manifests(MEMBER, settings),
        *member_manifests(MEMBER, KUBECONFIGS, settings),
    ]


def by_kind_and_name(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


@pytest.fixture
def manifests() -> list[dict[str, Any]]:
    return every_manifest()
