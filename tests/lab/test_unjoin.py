"""End to end: ``kosmosctl unjoin cluster`` on a running lab leaves the member's nodes clean.

The lab joins its clusters with the join's own code, so the real unjoin runs against its
stores. On the lab nothing runs as a Deployment, so the member's agents keep running
whatever the order; the order that matters on Kubernetes (agents last) is tested in
``tests/deploy/test_unjoin_teardown.py``, and here the output shows the wait between the
Cluster's deletion and the member's. Afterwards the unjoined cluster's nodes hold no
``vx-*`` device, no route in table 200 and no ``CLUSTERLINK`` chain, and the other
cluster's nodes hold no route towards its pod CIDRs.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterlink.lab.addressing import LabSpec, NodePlan
from tests.lab.support import KOSMOSCTL, RunningLab, eventually, kosmosctl
from tests.namespaces import namespace_marks

pytestmark = namespace_marks(("ip", "iptables", "iptables-save", "ip6tables-save", "nsenter"))

UNJOIN_TIMEOUT = 120


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    """A running two-cluster lab, gateway mode, dual stack; always taken down."""
    spec = LabSpec(name=f"unj{secrets.token_hex(2)}", clusters=2, nodes=2, mode="gateway",
                   ip_family="all")  # fmt: skip
    running = RunningLab(spec, tmp_path / "labs")
    try:
        done = running.cli("up", "--clusters", "2", "--nodes", "2", "--pods-per-node", "1",
                           "--mode", "gateway", "--ip-family", "all")  # fmt: skip
        assert done.returncode == 0, f"lab up failed:\n{done.stdout}\n{done.stderr}"
        yield running
    finally:
        kosmosctl("down", "--name", spec.name, state_dir=running.state_dir)


def in_node(node: NodePlan, *command: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", node.namespace, *command],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout


def tunnel_devices(node: NodePlan) -> list[str]:
    lines = in_node(node, "ip", "-o", "link", "show").splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in lines if ":" in line]
    return [name for name in names if name.startswith("vx-")]


def table_200_routes(node: NodePlan) -> list[str]:
    found: list[str] = []
    for family in ("-4", "-6"):
        found += in_node(node, "ip", family, "route", "show", "table", "200").splitlines()
    return [line for line in found if line.strip()]


def clusterlink_chains(node: NodePlan) -> list[str]:
    dumps = in_node(node, "iptables-save") + in_node(node, "ip6tables-save")
    return [line for line in dumps.splitlines() if "CLUSTERLINK" in line]


def lies_in(destination: str, cidrs: tuple[str, ...]) -> bool:
    """Whether a route destination (``10.2.1.0/24``, ``default``...) is inside ``cidrs``."""
    try:
        network = ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return False
    return any(
        network.network_address in cidr and network.prefixlen >= cidr.prefixlen
        for cidr in map(ipaddress.ip_network, cidrs)
    )


def routes_into(node: NodePlan, cidrs: tuple[str, ...]) -> list[str]:
    """The node's routes (any table) whose destination lies in ``cidrs``."""
    found: list[str] = []
    for family in ("-4", "-6"):
        for line in in_node(node, "ip", family, "route", "show", "table", "all").splitlines():
            if line.split() and lies_in(line.split()[0], cidrs):
                found.append(line)
    return found


def unjoin(lab: RunningLab, cluster: str) -> subprocess.CompletedProcess[str]:
    state = lab.state
    return subprocess.run(
        [*KOSMOSCTL, "unjoin", "cluster", "--name", cluster, "--store", state.control_store,
         "--member-store", state.member_stores[cluster], "--teardown-timeout", "60"],
        capture_output=True, text=True, timeout=UNJOIN_TIMEOUT, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def test_unjoin_cleans_the_members_nodes_and_the_others_routes_to_it(lab: RunningLab) -> None:
    plan = lab.plan
    leaving, staying = plan.cluster("cluster2"), plan.cluster("cluster1")
    assert all(tunnel_devices(node) for node in leaving.nodes)
    assert any(routes_into(node, leaving.pod_cidrs) for node in staying.nodes)

    done = unjoin(lab, "cluster2")

    assert done.returncode == 0, done.stderr
    output = done.stderr
    assert "did not remove" not in output
    assert "cluster2 unjoined" in output
    waited = output.index("waiting for the network-manager to remove 2 NodeConfig(s) of cluster2")
    assert output.index("Cluster cluster2 deleted") < waited
    assert waited < output.index("Secret kosmos-system/clusterlink-agent-proxy deleted")

    def clean() -> bool:
        return not any(
            tunnel_devices(n) or table_200_routes(n) or clusterlink_chains(n) for n in leaving.nodes
        )

    def unrouted() -> bool:
        return not any(routes_into(n, leaving.pod_cidrs) for n in staying.nodes)

    assert eventually(clean, within=20), {
        n.path: (tunnel_devices(n), table_200_routes(n), clusterlink_chains(n))
        for n in leaving.nodes
    }
    assert eventually(unrouted, within=20), {
        n.path: routes_into(n, leaving.pod_cidrs) for n in staying.nodes
    }
    assert all(tunnel_devices(node) for node in staying.nodes)
