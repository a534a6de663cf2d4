"""The floaters ``kosmosctl dr`` deploys: valid manifests, least privilege, and a command
line the floater accepts.

RBAC is checked both ways, as for the other components in ``test_rbac.py``: the Role grants
exactly the :data:`~clusterlink.deploy.access.FLOATER` entries, and a floater running
against a recording store through start, a lost registration race, a plan and a stop makes
exactly those calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from clusterlink.deploy.access import FLOATER
from clusterlink.deploy.floaters import FloaterOptions, floater_manifests
from clusterlink.deploy.settings import DEFAULT_NAMESPACE, DeploySettings
from clusterlink.floater.daemon import Floater
from clusterlink.floater.messages import (
    FloaterInfo,
    plan_document,
    registration_name,
    result_name,
)
from clusterlink.floater.plan import ProbePlan
from clusterlink.store import NotFoundError
from tests.controllers.support import eventually, sqlite_store
from tests.doctor.fake_kubelet import FakeNode, floater_identity

from .recording import RecordingStore
from .test_manifests import KUBERNETES_VERSION, manifest_id
from .test_rbac import assert_matches, expected

BOTH = FloaterOptions("member-a", 8889, ("pod", "host"))


def manifests(settings: DeploySettings | None = None) -> list[dict[str, Any]]:
    return floater_manifests(BOTH, settings)


def daemon_set(network: str) -> dict[str, Any]:
    name = "clusterlink-floater" if network == "pod" else "clusterlink-floater-host"
    (found,) = [
        m for m in manifests() if m["kind"] == "DaemonSet" and m["metadata"]["name"] == name
    ]
    return found


def pod_spec(network: str) -> dict[str, Any]:
    spec: dict[str, Any] = daemon_set(network)["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("manifest", manifests(), ids=manifest_id)
def test_every_floater_manifest_is_valid_against_the_kubernetes_schemas(
    manifest: dict[str, Any],
) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_manifests_are_what_upstream_creates_but_namespaced() -> None:
    assert [(m["kind"], m["metadata"]["name"]) for m in manifests()] == [
        ("Namespace", "kosmos-system"),
        ("ServiceAccount", "clusterlink-floater"),
        ("Role", "clusterlink-floater"),
        ("RoleBinding", "clusterlink-floater"),
        ("DaemonSet", "clusterlink-floater"),
        ("DaemonSet", "clusterlink-floater-host"),
    ]
    only_pod = floater_manifests(FloaterOptions("member-a"))
    assert [m["metadata"]["name"] for m in only_pod if m["kind"] == "DaemonSet"] == [
        "clusterlink-floater"
    ]


def test_the_role_grants_exactly_the_floater_table_and_no_wildcard() -> None:
    (role,) = [m for m in manifests() if m["kind"] in ("Role", "ClusterRole")]
    (binding,) = [m for m in manifests() if m["kind"].endswith("Binding")]

    assert role["kind"] == "Role"
    granted = {
        (group, resource, verb, role["metadata"]["namespace"], ())
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == expected(FLOATER.member)
    assert all("*" not in value for rule in role["rules"] for value in rule.values())
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "clusterlink-floater",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "clusterlink-floater", "namespace": "kosmos-system"}
    ]


def test_the_floater_calls_exactly_its_table(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path, "member")
    recording = RecordingStore(store, lose_first_create_of=frozenset({"ConfigMap"}))
    info = FloaterInfo("floater-x", "member-a", "n1", "pod", ("127.0.0.1",), 0)
    floater = Floater(recording, info, DEFAULT_NAMESPACE)
    floater.start()
    try:
        eventually(lambda: floater.ready)
        store.create(plan_document(ProbePlan("run1", "floater-x", ()), DEFAULT_NAMESPACE))
        eventually(lambda: _exists(store, result_name("run1", "floater-x")))
        floater.stop()
        assert not _exists(store, registration_name("floater-x"))
    finally:
        floater.stop()
        store.close()

    assert_matches(FLOATER, set(), recording.calls)


def _exists(store: Any, name: str) -> bool:
    try:
        store.get("ConfigMap", name, DEFAULT_NAMESPACE)
    except NotFoundError:
        return False
    return True


@pytest.mark.parametrize(
    ("network", "addresses"), [("pod", "10.1.0.5,fd00::5"), ("host", "192.168.1.5")]
)
def test_the_floater_cli_accepts_the_command_and_reads_who_it_is_from_the_environment(
    network: str, addresses: str
) -> None:
    (container,) = pod_spec(network)["containers"]
    pod = {"metadata": {"name": f"floater-{network}", "namespace": "kosmos-system"}}
    node = FakeNode("n1", addresses, addresses)

    info, namespace = floater_identity(container, pod, node)

    assert info == FloaterInfo(
        f"floater-{network}",
        "member-a",
        "n1",
        network,
        tuple(addresses.split(",")),
        8889,  # type: ignore[arg-type]
    )
    assert namespace == "kosmos-system"
    assert container["command"][:4] == ["clusterlink", "floater", "--store", "kube://in-cluster"]


def test_pod_network_floaters_run_as_non_root_without_any_capability() -> None:
    spec = pod_spec("pod")
    (container,) = spec["containers"]

    assert "hostNetwork" not in spec
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ping_group_range", "value": "0 2147483647"}
    ]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_host_network_floaters_get_only_net_raw_and_are_not_privileged() -> None:
    spec = pod_spec("host")
    (container,) = spec["containers"]
    context = container["securityContext"]

    assert spec["hostNetwork"] is True
    assert "privileged" not in context
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW"]}
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("network", ["pod", "host"])
def test_floaters_avoid_excluded_and_virtual_nodes_and_tolerate_taints_as_upstream(
    network: str,
) -> None:
    spec = pod_spec(network)
    (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]

    assert term["matchExpressions"] == [
        {"key": "kosmos.io/exclude", "operator": "NotIn", "values": ["true"]},
        {"key": "kubernetes.io/role", "operator": "NotIn", "values": ["agent"]},
    ]
    assert spec["tolerations"] == [
        {"operator": "Exists", "effect": "NoSchedule"},
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"operator": "Exists", "effect": "NoExecute"},
    ]


@pytest.mark.parametrize("network", ["pod", "host"])
def test_probes_and_port_are_the_floaters_port_and_the_two_daemon_sets_select_apart(
    network: str,
) -> None:
    (container,) = pod_spec(network)["containers"]
    selector = daemon_set(network)["spec"]["selector"]["matchLabels"]

    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8889}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8889}
    assert container["command"][container["command"].index("--probe-port") + 1] == "-1"
    assert {"name": "PORT", "value": "8889"} in container["env"]
    assert selector == {"app": "clusterlink-floater", "clusterlink.io/floater-network": network}
    template_labels = daemon_set(network)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items()


def test_the_image_and_namespace_are_settings() -> None:
    settings = DeploySettings("links", "registry.local/mirror", "v9")

    made = manifests(settings)

    images = {
        m["spec"]["template"]["spec"]["containers"][0]["image"]
        for m in made
        if m["kind"] == "DaemonSet"
    }
    assert images == {"registry.local/mirror/clusterlink-floater:v9"}
    assert {m["metadata"].get("namespace", "links") for m in made} == {"links"}
    assert made[0]["metadata"]["name"] == "links"
