"""``clusterlink controller-manager`` as a process: two stores, probes, clean shutdown."""

from __future__ import annotations

from pathlib import Path

from tests.controllers.support import (
    eventually,
    http_get,
    lease_holder,
    probe_port,
    sqlite_store,
    start_component,
    terminate,
)


def test_a_member_is_published_until_sigterm_stops_the_process(tmp_path: Path) -> None:
    control = sqlite_store(tmp_path, "control")
    member = sqlite_store(tmp_path, "member-a")
    control.create(
        {"apiVersion": "kosmos.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "a"}}
    )
    member.create(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["10.1.1.0/24"]},
        }
    )
    process = start_component(
        "controller-manager",
        "--cluster",
        "a",
        "--identity",
        "cm-1",
        "--store",
        f"sqlite://{tmp_path / 'control.db'}?poll_interval=0.01",
        "--member-store",
        f"sqlite://{tmp_path / 'member-a.db'}?poll_interval=0.01",
    )
    try:
        port = probe_port(process)
        eventually(lambda: [d["metadata"]["name"] for d in control.list("ClusterNode").items])
        status = eventually(lambda: control.get("Cluster", "a").get("status"))
        assert status["clusterLinkStatus"]["podCIDRs"] == ["10.1.1.0/24"]
        assert lease_holder(member, "controller-manager") == "cm-1"
        assert http_get(port, "/readyz")[0] == 200
        assert terminate(process) == 0
    finally:
        terminate(process)
        member.close()
        control.close()
