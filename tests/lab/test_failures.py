"""End to end: a federation keeps working through a gateway failure, a node coming back,
agent restarts and a control-plane outage."""

from __future__ import annotations

import subprocess
import time

from clusterlink.lab import lab as lab_ops
from clusterlink.lab.lab import wait_ready
from clusterlink.lab.naming import Target
from tests.lab.conftest import LabFactory
from tests.lab.support import cross_cluster_pairs, unreachable_pairs

FAILOVER_BOUND = 30.0


def test_pods_of_the_surviving_node_reach_the_remote_cluster_after_the_gateway_node_dies(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="gateway", ip_family="all")
    gateway = lab.gateway_of("cluster1")
    (survivor_node,) = {"cluster1/node1", "cluster1/node2"} - {gateway}

    killed = lab.cli("kill-node", gateway)

    assert killed.returncode == 0, killed.stderr
    survivor = lab.pod(f"{survivor_node}/pod1")
    remote = [lab.pod("cluster2/node1/pod1"), lab.pod("cluster2/node2/pod1")]
    outbound = [(survivor, ip) for pod in remote for ip in pod.ips]
    inbound = [(pod, ip) for pod in remote for ip in survivor.ips]
    assert unreachable_pairs(outbound + inbound, within=FAILOVER_BOUND) == []
    assert lab.gateway_of("cluster1") == survivor_node


def test_a_killed_node_rejoins_the_federation_after_start_node(start_lab: LabFactory) -> None:
    lab = start_lab(mode="p2p", ip_family="ipv4")
    lab.cli("kill-node", "cluster2/node2")

    started = lab.cli("start-node", "cluster2/node2")

    assert started.returncode == 0, started.stderr
    wait_ready(lab.state, lab.plan, lambda _: None, timeout=60)
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []


def test_traffic_keeps_flowing_while_the_network_manager_is_down_and_it_resumes_after(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(mode="mixed", ip_family="ipv4")

    lab_ops.stop_control_plane(lab.spec.name, lab.state_dir)

    assert not any(p.role == "network-manager" for p in lab.state.processes)
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []

    lab_ops.start_control_plane(lab.spec.name, lab.state_dir)

    wait_ready(lab.state, lab.plan, lambda _: None, timeout=60)
    assert unreachable_pairs(cross_cluster_pairs(lab)) == []


def test_no_ping_is_lost_while_an_agent_restarts(start_lab: LabFactory) -> None:
    lab = start_lab(mode="gateway", ip_family="ipv4")
    source = lab.pod("cluster1/node2/pod1")
    address = lab.address_of(source.path, "cluster2/node2/pod1")
    pings = ["ping", "-c", "80", "-i", "0.1", "-W", "1", address]
    ping = subprocess.Popen(
        ["ip", "netns", "exec", source.namespace, *pings], stdout=subprocess.PIPE, text=True
    )
    time.sleep(1)

    lab_ops.restart_agent(lab.spec.name, lab.state_dir, Target("cluster1", "node2"))
    lab_ops.restart_agent(lab.spec.name, lab.state_dir, Target("cluster1", "node1"))

    output, _ = ping.communicate(timeout=30)
    assert " 80 received" in output, output
