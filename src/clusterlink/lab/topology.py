"""The lab's network: namespaces, veth pairs, bridges, addresses, routes and sysctls.

Built with iproute2 (one ``ip -batch`` per namespace and step) following the hand-made
recipe's pitfalls: ``lo`` up first (onlink routes need the local table), forwarding on in
the router and nodes, no DAD (static IPv6 addresses usable at once), proxy ARP with no
delay on the Calico-style host veths, loose ``rp_filter`` on the node's ``eth0`` (gateway
mode is asymmetric there). Every link is created inside a lab namespace, never in the
root namespace, and namespaces are only ever deleted by exact name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from clusterlink.lab.addressing import ClusterPlan, LabPlan, NodePlan, PodPlan

NETNS_DIR = "/run/netns"
CALICO_MAC = "ee:ee:ee:ee:ee:ee"
CALICO_GATEWAY4 = "169.254.1.1"
CALICO_GATEWAY6 = "fe80::ecee:eeff:feee:eeee"  # EUI-64 link-local of CALICO_MAC
REQUIRED_TOOLS = ("ip", "bridge", "iptables", "ip6tables", "nsenter", "sysctl")
LOOSE = 2


class TopologyError(RuntimeError):
    """An iproute2 or sysctl command failed; the message has the command and its error."""


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def _run(argv: Sequence[str], stdin: str | None = None) -> str:
    done = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise TopologyError(f"{' '.join(argv)}: {detail}")
    return done.stdout


def run_batch(namespace: str, lines: Sequence[str]) -> None:
    """Run iproute2 commands (``ip`` syntax without the leading ``ip``) in ``namespace``."""
    if lines:
        _run(["ip", "-n", namespace, "-batch", "-"], stdin="\n".join(lines) + "\n")


def set_sysctls(namespace: str, settings: Sequence[tuple[str, str | int]]) -> None:
    if settings:
        _run(
            ["ip", "netns", "exec", namespace, "sysctl", "-qw"]
            + [f"{key}={value}" for key, value in settings]
        )


def namespace_exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def existing_namespaces(prefix: str) -> list[str]:
    """Namespaces whose name starts with ``prefix``."""
    if not os.path.isdir(NETNS_DIR):
        return []
    return sorted(name for name in os.listdir(NETNS_DIR) if name.startswith(prefix))


def create_namespace(name: str, *, forwarding: bool) -> None:
    """A new namespace with ``lo`` up and DAD off; fails if ``name`` exists."""
    if namespace_exists(name):
        raise TopologyError(f"network namespace {name} already exists")
    _run(["ip", "netns", "add", name])
    settings: list[tuple[str, str | int]] = [
        ("net.ipv6.conf.all.accept_dad", 0),
        ("net.ipv6.conf.default.accept_dad", 0),
    ]
    if forwarding:
        settings += [("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1)]
    set_sysctls(name, settings)
    run_batch(name, ["link set lo up"])


def delete_namespace(name: str) -> None:
    """Delete one namespace by exact name; deleting it destroys every link inside it."""
    if namespace_exists(name):
        _run(["ip", "netns", "del", name])


def pids_in_namespace(name: str) -> list[int]:
    if not namespace_exists(name):
        return []
    done = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
    )
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def build_router_bridges(plan: LabPlan) -> None:
    """One underlay bridge per cluster in the router, holding the cluster's gateway IPs."""
    lines: list[str] = []
    for cluster in plan.clusters:
        lines += [f"link add {cluster.bridge} type bridge", f"link set {cluster.bridge} up"]
        if cluster.router4 and cluster.underlay4:
            lines.append(f"addr add {cluster.router4}/24 dev {cluster.bridge}")
        if cluster.router6:
            lines.append(f"addr add {cluster.router6}/64 dev {cluster.bridge} nodad")
    run_batch(plan.router_namespace, lines)


def attach_node(plan: LabPlan, cluster: ClusterPlan, node: NodePlan) -> None:
    """Wire an existing node namespace: ``eth0`` on its cluster's underlay, default routes."""
    run_batch(
        plan.router_namespace,
        [
            f"link add {node.router_interface} type veth peer name eth0 netns {node.namespace}",
            f"link set {node.router_interface} master {cluster.bridge} up",
        ],
    )
    lines: list[str] = []
    if node.ip4:
        lines.append(f"addr add {node.ip4}/24 dev eth0")
    if node.ip6:
        lines.append(f"addr add {node.ip6}/64 dev eth0 nodad")
    lines.append("link set eth0 up")
    if cluster.router4:
        lines.append(f"route add default via {cluster.router4} dev eth0")
    if cluster.router6:
        lines.append(f"route add ::/0 via {cluster.router6} dev eth0")
    run_batch(node.namespace, lines)
    set_sysctls(node.namespace, [("net.ipv4.conf.eth0.rp_filter", LOOSE)])


def attach_pod(node: NodePlan, pod: PodPlan) -> None:
    """Calico-style wiring: /32 and /128 on the pod, host routes and proxy ARP on the node."""
    host = pod.host_interface
    node_lines = [
        f"link add {host} address {CALICO_MAC} type veth peer name eth0 netns {pod.namespace}",
        f"link set {host} up",
    ]
    if pod.ip4:
        node_lines.append(f"route add {pod.ip4}/32 dev {host} scope link")
    if pod.ip6:
        node_lines.append(f"route add {pod.ip6}/128 dev {host}")
    run_batch(node.namespace, node_lines)
    set_sysctls(
        node.namespace,
        [(f"net.ipv4.conf.{host}.proxy_arp", 1), (f"net.ipv4.neigh.{host}.proxy_delay", 0)],
    )
    pod_lines: list[str] = []
    if pod.ip4:
        pod_lines.append(f"addr add {pod.ip4}/32 dev eth0")
    if pod.ip6:
        pod_lines.append(f"addr add {pod.ip6}/128 dev eth0 nodad")
    pod_lines.append("link set eth0 up")
    if pod.ip4:
        pod_lines += [
            f"route add {CALICO_GATEWAY4} dev eth0 scope link",
            f"route add default via {CALICO_GATEWAY4} dev eth0",
        ]
    if pod.ip6:
        pod_lines.append(f"route add ::/0 via {CALICO_GATEWAY6} dev eth0")
    run_batch(pod.namespace, pod_lines)


def add_host_gw_routes(cluster: ClusterPlan) -> None:
    """Inside a cluster, each node routes the others' pod CIDRs via their underlay IP."""
    for node in cluster.nodes:
        lines: list[str] = []
        for peer in cluster.nodes:
            if peer.name == node.name:
                continue
            if peer.pod_cidr4 and peer.ip4:
                lines.append(f"route add {peer.pod_cidr4} via {peer.ip4} dev eth0")
            if peer.pod_cidr6 and peer.ip6:
                lines.append(f"route add {peer.pod_cidr6} via {peer.ip6} dev eth0")
        run_batch(node.namespace, lines)


def set_node_link(plan: LabPlan, node: NodePlan, *, up: bool) -> None:
    """Cut (or restore) a node's only link, at the router's end, as a failed node."""
    state = "up" if up else "down"
    run_batch(plan.router_namespace, [f"link set {node.router_interface} {state}"])
