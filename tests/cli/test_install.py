"""``kosmosctl install/join/unjoin/uninstall`` on the lab's embedded stores, through the CLI.

The sqlite store holds Clusters and Secrets but no Namespaces, RBAC or workloads, so these
tests see the kosmos.io objects and Secrets written and removed, and every other kind
reported as skipped (the lab runs the components as processes). The other kinds are
covered through an in-memory target in ``test_install_kube.py``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from clusterlink.store import open_store

from .install_support import member_with_nodes, read, run, snapshot, sqlite_url

KUBERNETES_VERSION = "1.37.0"
MANAGED = {"app.kubernetes.io/managed-by": "kosmosctl"}


@pytest.fixture
def control(tmp_path: Path) -> str:
    url = member_with_nodes(tmp_path / "control.db", "10.200.0.0/24")
    code, _, err = run("install", "--store", url)
    assert code == 0, err
    return url


def join_args(control: str, member: str, name: str, *extra: str) -> list[str]:
    return ["join", "cluster", "--name", name, "--store", control, "--member-store", member, *extra]


def report_pod_cidrs(control: str, cluster: str, *cidrs: str) -> None:
    """What the member's controller-manager does once it runs."""
    store = open_store(control)
    try:
        current = store.get("Cluster", cluster)
        status = {"clusterLinkStatus": {"podCIDRs": list(cidrs), "serviceCIDRs": []}}
        store.update_status({**current, "status": status})
    finally:
        store.close()


def secret_value(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


# --- dry run -----------------------------------------------------------------------------


def test_install_dry_run_prints_every_manifest_valid_and_labelled_without_a_cluster() -> None:
    code, out, _ = run("install", "--dry-run", "-o", "yaml", "--kubeconfig", "/nonexistent")

    assert code == 0
    manifests = list(yaml.safe_load_all(out))
    kinds = {m["kind"] for m in manifests}
    assert {"Namespace", "CustomResourceDefinition", "Deployment", "DaemonSet", "Secret"} <= kinds
    for manifest in manifests:
        assert MANAGED.items() <= manifest["metadata"]["labels"].items()
        if manifest["kind"] != "Cluster":
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    (cluster,) = [m for m in manifests if m["kind"] == "Cluster"]
    assert cluster["metadata"]["name"] == "kosmos-control-cluster"
    assert cluster["metadata"]["annotations"] == {"kosmos.io/cluster-role": "root"}


def test_install_dry_run_follows_the_image_and_link_flags() -> None:
    code, out, _ = run(
        "install", "--dry-run", "-r", "registry.local/kosmos", "--version", "v9",
        "--network-type", "p2p", "--ip-family", "all", "--cni", "flannel", "--default-nic", "eth1",
    )  # fmt: skip

    assert code == 0
    manifests = list(yaml.safe_load_all(out))
    images = {
        c["image"]
        for m in manifests
        if m["kind"] in ("Deployment", "DaemonSet")
        for c in m["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        f"registry.local/kosmos/clusterlink-{c}:v9"
        for c in ("network-manager", "agent", "elector", "controller-manager")
    }
    (cluster,) = [m for m in manifests if m["kind"] == "Cluster"]
    assert cluster["spec"]["clusterLinkOptions"] == {
        "enable": True,
        "cni": "flannel",
        "networkType": "p2p",
        "ipFamily": "all",
        "defaultNICName": "eth1",
    }


# --- install and join ----------------------------------------------------------------------


def test_install_creates_the_root_cluster_and_says_what_the_store_cannot_hold(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "control.db")

    code, _, err = run("install", "--store", url)

    assert code == 0, err
    cluster = read(url, "Cluster", "kosmos-control-cluster")
    assert cluster["metadata"]["annotations"]["kosmos.io/cluster-role"] == "root"
    assert cluster["metadata"]["labels"]["kosmos.io/joined-cluster"] == "kosmos-control-cluster"
    assert "objects skipped (ClusterRole, ClusterRoleBinding, CustomResourceDefinition, " in err
    assert "Deployment, Namespace, Role, RoleBinding, ServiceAccount): store sqlite" in err
    assert "holds no such kind" in err


def test_join_creates_the_cluster_with_the_flags_values_and_fills_the_member_secret(
    tmp_path: Path, control: str
) -> None:
    member = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24", "10.1.1.0/24")

    code, _, err = run(
        *join_args(control, member, "cluster-a"),
        "--network-type", "p2p", "--ip-family", "all", "--cni", "flannel",
        "--default-nic", "eth1", "--global-cidrs-map", "10.1.0.0/23=10.99.0.0/23",
        "-r", "registry.local/kosmos",
    )  # fmt: skip

    assert code == 0, err
    cluster = read(control, "Cluster", "cluster-a")
    assert cluster["spec"]["imageRepository"] == "registry.local/kosmos"
    assert cluster["spec"]["clusterLinkOptions"] == {
        "enable": True,
        "cni": "flannel",
        "networkType": "p2p",
        "ipFamily": "all",
        "defaultNICName": "eth1",
        "globalCIDRsMap": {"10.1.0.0/23": "10.99.0.0/23"},
    }
    secret = read(member, "Secret", "clusterlink-agent-proxy", "kosmos-system")
    assert set(secret["data"]) == {"agent", "elector", "controller-manager"}
    assert secret_value(secret, "agent") == control
    assert "cluster-a joined" in err


def test_preflight_refuses_an_overlapping_pod_cidr_and_suggests_a_global_map(
    tmp_path: Path, control: str
) -> None:
    first = member_with_nodes(tmp_path / "a.db", "10.244.0.0/24", "10.244.1.0/24")
    assert run(*join_args(control, first, "cluster-a"))[0] == 0
    report_pod_cidrs(control, "cluster-a", "10.244.0.0/23")
    second = member_with_nodes(tmp_path / "b.db", "10.244.1.0/24")
    before = snapshot(control), snapshot(second)

    code, _, err = run(*join_args(control, second, "cluster-b"))

    assert code == 1
    assert "refused, nothing was written" in err
    assert "pod CIDR 10.244.1.0/24 of cluster-b overlaps pod CIDR 10.244.0.0/23" in err
    assert "--global-cidrs-map 10.244.1.0/24=10.0.0.0/24" in err
    assert (snapshot(control), snapshot(second)) == before

    code, _, err = run(
        *join_args(control, second, "cluster-b"), "--global-cidrs-map", "10.244.1.0/24=10.0.0.0/24"
    )
    assert code == 0, err


def test_preflight_refuses_a_malformed_nic_name_and_a_taken_name(
    tmp_path: Path, control: str
) -> None:
    member = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24")

    code, _, err = run(*join_args(control, member, "cluster-a"), "--default-nic", "eth0/1")
    assert code == 1
    assert "not a network interface name" in err

    other = member_with_nodes(tmp_path / "other.db", "10.2.0.0/24")
    code, _, err = run(*join_args(control, other, "kosmos-control-cluster"))
    assert code == 1
    assert "exists already in the control plane" in err


def test_the_store_path_says_access_rights_cannot_be_checked(tmp_path: Path, control: str) -> None:
    member = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24")

    code, _, err = run(*join_args(control, member, "cluster-a"))

    assert code == 0
    assert "has no RBAC; access rights not checked" in err


def test_join_is_idempotent(tmp_path: Path, control: str) -> None:
    member = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24")
    assert run(*join_args(control, member, "cluster-a"))[0] == 0
    after_first = snapshot(control), snapshot(member)

    code, _, err = run(*join_args(control, member, "cluster-a"))

    assert code == 0, err
    assert "created" not in err
    assert (snapshot(control), snapshot(member)) == after_first


# --- unjoin and uninstall ------------------------------------------------------------------


def test_unjoin_removes_exactly_what_join_created_and_is_idempotent(
    tmp_path: Path, control: str
) -> None:
    a = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24")
    b = member_with_nodes(tmp_path / "b.db", "10.2.0.0/24")
    assert run(*join_args(control, a, "cluster-a"))[0] == 0
    before_b = snapshot(control), snapshot(b)
    assert run(*join_args(control, b, "cluster-b"))[0] == 0
    assert snapshot(control) > before_b[0]

    code, _, err = run("unjoin", "cluster", "--name", "cluster-b", "--store", control,
                       "--member-store", b)  # fmt: skip

    assert code == 0, err
    assert (snapshot(control), snapshot(b)) == before_b
    assert read(control, "Cluster", "cluster-a")
    assert read(a, "Secret", "clusterlink-agent-proxy", "kosmos-system")

    code, _, err = run("unjoin", "cluster", "--name", "cluster-b", "--store", control,
                       "--member-store", b)  # fmt: skip
    assert code == 0
    assert "nothing was left of the join of cluster-b" in err


def test_unjoin_keeps_what_existed_before_the_join(tmp_path: Path, control: str) -> None:
    member = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24")
    store = open_store(member)
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "clusterlink-agent-proxy", "namespace": "kosmos-system"},
            "data": {},
        }
    )
    store.close()
    code, _, err = run(*join_args(control, member, "cluster-a"))
    assert code == 0
    assert "kept (it existed already" in err

    assert run("unjoin", "cluster", "--name", "cluster-a", "--store", control,
               "--member-store", member)[0] == 0  # fmt: skip

    assert read(member, "Secret", "clusterlink-agent-proxy", "kosmos-system")["data"] == {}


def test_uninstall_is_refused_while_members_remain_then_removes_everything_once(
    tmp_path: Path,
) -> None:
    control = member_with_nodes(tmp_path / "control.db", "10.200.0.0/24")
    untouched = snapshot(control)
    assert run("install", "--store", control)[0] == 0
    member = member_with_nodes(tmp_path / "a.db", "10.1.0.0/24")
    assert run(*join_args(control, member, "cluster-a"))[0] == 0

    code, _, err = run("uninstall", "--store", control)
    assert code == 1
    assert "cluster-a are still joined" in err

    assert run("unjoin", "cluster", "--name", "cluster-a", "--store", control,
               "--member-store", member)[0] == 0  # fmt: skip
    code, _, err = run("uninstall", "--store", control)
    assert code == 0, err
    assert snapshot(control) == untouched

    code, _, err = run("uninstall", "--store", control)
    assert code == 0
    assert "nothing was left of the installation" in err


def test_join_without_a_member_is_a_usage_error(control: str) -> None:
    code, _, err = run("join", "cluster", "--name", "x", "--store", control)

    assert code == 2
    assert "--kubeconfig FILE or --member-store URL" in err
