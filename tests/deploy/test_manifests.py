"""The generated manifests are valid Kubernetes objects and run the components as designed."""

from __future__ import annotations

from typing import Any

import click
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from clusterlink.cli.components import main as clusterlink_cli
from clusterlink.deploy import DeploySettings, member_manifests, to_yaml
from clusterlink.store.kube import parse_kube_url

from .conftest import KUBECONFIGS, MEMBER, by_kind_and_name, every_manifest

KUBERNETES_VERSION = "1.37.0"


def manifest_id(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def workloads(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] in ("Deployment", "DaemonSet")]


@pytest.mark.parametrize("manifest", every_manifest(), ids=manifest_id)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_output_is_stable_and_round_trips_through_yaml() -> None:
    first, second = to_yaml(every_manifest()), to_yaml(every_manifest())

    assert first == second
    assert list(yaml.safe_load_all(first)) == every_manifest()


def test_images_are_named_as_upstream(manifests: list[dict[str, Any]]) -> None:
    images = {
        container["image"]
        for workload in workloads(manifests)
        for container in pod_spec(workload)["containers"]
    }

    assert images == {
        f"ghcr.io/kosmos-io/clusterlink-{component}:v0.1.0"
        for component in ("network-manager", "controller-manager", "elector", "agent")
    }


def test_the_image_repository_version_and_namespace_are_settings() -> None:
    settings = DeploySettings(
        namespace="links", image_repository="registry.local/mirror/", version="v9"
    )

    made = member_manifests(MEMBER, KUBECONFIGS, settings)

    agent = by_kind_and_name(made, "DaemonSet", "clusterlink-agent")
    assert pod_spec(agent)["containers"][0]["image"] == "registry.local/mirror/clusterlink-agent:v9"
    elsewhere = [manifest_id(m) for m in made if m["metadata"].get("namespace", "links") != "links"]
    assert by_kind_and_name(made, "Namespace", "links")
    assert elsewhere == [
        "Role/clusterlink-controller-manager",
        "RoleBinding/clusterlink-controller-manager",
    ]


def test_the_agent_runs_privileged_on_the_host_network_of_every_included_node(
    manifests: list[dict[str, Any]],
) -> None:
    spec = pod_spec(by_kind_and_name(manifests, "DaemonSet", "clusterlink-agent"))
    (container,) = spec["containers"]

    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert container["securityContext"]["privileged"] is True
    assert {t["key"] for t in spec["tolerations"]} == {
        "node-role.kubernetes.io/control-plane",
        "node-role.kubernetes.io/master",
    }
    (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "kosmos.io/exclude", "operator": "NotIn", "values": ["true"]}
    ]
    assert container["env"] == [
        {"name": "CLUSTER_NAME", "value": MEMBER},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    assert spec["automountServiceAccountToken"] is False


def test_the_elector_runs_two_replicas_on_different_nodes(manifests: list[dict[str, Any]]) -> None:
    elector = by_kind_and_name(manifests, "Deployment", "clusterlink-elector")
    affinity = pod_spec(elector)["affinity"]

    assert elector["spec"]["replicas"] == 2
    (term,) = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == elector["spec"]["selector"]["matchLabels"]
    assert "nodeAffinity" in affinity


def test_non_agent_containers_run_as_non_root_with_a_read_only_root(
    manifests: list[dict[str, Any]],
) -> None:
    for workload in workloads(manifests):
        if workload["kind"] == "DaemonSet":
            continue
        (container,) = pod_spec(workload)["containers"]
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, manifest_id(workload)
        assert context["readOnlyRootFilesystem"] is True, manifest_id(workload)
        assert context["capabilities"] == {"drop": ["ALL"]}, manifest_id(workload)


def test_each_member_pod_mounts_only_its_own_control_plane_kubeconfig(
    manifests: list[dict[str, Any]],
) -> None:
    secret = by_kind_and_name(manifests, "Secret", "clusterlink-agent-proxy")
    assert secret["stringData"] == KUBECONFIGS

    for component in KUBECONFIGS:
        kind = "DaemonSet" if component == "agent" else "Deployment"
        spec = pod_spec(by_kind_and_name(manifests, kind, f"clusterlink-{component}"))
        (volume,) = [v for v in spec["volumes"] if v["name"] == "control-plane"]
        assert volume["secret"]["secretName"] == "clusterlink-agent-proxy"
        assert volume["secret"]["items"] == [{"key": component, "path": "kubeconfig"}]


def test_member_manifests_refuse_a_missing_kubeconfig() -> None:
    with pytest.raises(ValueError, match="controller-manager"):
        member_manifests(MEMBER, {"agent": "x", "elector": "y"})


def test_probes_use_the_port_the_component_serves_them_on(
    manifests: list[dict[str, Any]],
) -> None:
    for workload in workloads(manifests):
        (container,) = pod_spec(workload)["containers"]
        command = container["command"]
        port = int(command[command.index("--probe-port") + 1])
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
        assert container["readinessProbe"]["httpGet"]["port"] == port
        assert container["ports"][0]["containerPort"] == port


def test_only_components_without_a_standby_are_ready_on_readyz(
    manifests: list[dict[str, Any]],
) -> None:
    readiness = {
        workload["metadata"]["name"]: pod_spec(workload)["containers"][0]["readinessProbe"][
            "httpGet"
        ]["path"]
        for workload in workloads(manifests)
    }

    assert readiness == {
        "clusterlink-agent": "/readyz",
        "clusterlink-network-manager": "/healthz",
        "clusterlink-elector": "/healthz",
        "clusterlink-controller-manager": "/healthz",
    }


@pytest.mark.parametrize(
    "name",
    [
        "clusterlink-network-manager",
        "clusterlink-controller-manager",
        "clusterlink-elector",
        "clusterlink-agent",
    ],
)
def test_every_container_command_is_accepted_by_the_clusterlink_cli(
    name: str, manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    workload = next(m for m in workloads(manifests) if m["metadata"]["name"] == name)
    (container,) = pod_spec(workload)["containers"]
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable.get("value", "from-the-downward-api"))
    program, *arguments = container["command"]

    command: click.Command = clusterlink_cli
    name = program
    while isinstance(command, click.Group):
        name, *arguments = arguments
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"no subcommand {name!r}"
        command = found
    context = command.make_context(name, arguments)

    stores = [v for k, v in context.params.items() if k == "store" or k.endswith("store_url")]
    assert stores
    for url in stores:
        assert parse_kube_url(url)
    assert program == "clusterlink"
