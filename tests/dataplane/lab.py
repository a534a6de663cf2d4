"""Throwaway network namespaces for data plane tests: nodes on one switched underlay, each
with a pod-like namespace behind it, and the NodeConfig specs of the P2P and gateway shapes.

Every namespace is named ``cltest-<suffix>-<role>`` with a random suffix per test, created
here and deleted by name in teardown. Nothing is created in the root namespace: all veth
pairs are made inside the test namespaces.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clusterlink.api.models import Arp, Device, Fdb, NodeConfigSpec, Route

PREFIX = "cltest-"
ECHO = str(Path(__file__).with_name("echo.py"))


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


@dataclass(frozen=True)
class Node:
    """A node: underlay addresses on ``eth0`` and the pod CIDRs of its pod namespace."""

    name: str
    cluster: str
    index: int  # host part of every address of the node

    @property
    def underlay4(self) -> str:
        return f"192.168.100.{self.index}"

    @property
    def underlay6(self) -> str:
        return f"fd10::{self.index}"

    @property
    def pod4(self) -> str:
        return f"10.{self.cluster_octet}.{self.index}.10"

    @property
    def pod6(self) -> str:
        return f"fd33:{self.cluster_octet}:{self.index}::10"

    @property
    def pod_cidr4(self) -> str:
        return f"10.{self.cluster_octet}.{self.index}.0/24"

    @property
    def pod_cidr6(self) -> str:
        return f"fd33:{self.cluster_octet}:{self.index}::/64"

    @property
    def cluster_octet(self) -> int:
        return {"a": 10, "b": 20}[self.cluster]

    def tunnel(self, device: str) -> str:
        """The node's address on one of our devices (without prefix length)."""
        return {
            "vx-bridge": f"172.30.0.{self.index}",
            "vx-local": f"172.31.0.{self.index}",
            "vx-bridge-6": f"fdb0::{self.index}",
            "vx-local-6": f"fdb1::{self.index}",
        }[device]

    def mac(self, device: str) -> str:
        kind = {"vx-bridge": 0x54, "vx-local": 0x55, "vx-bridge-6": 0x64, "vx-local-6": 0x65}
        return f"0e:{kind[device]:02x}:00:00:00:{self.index:02x}"


def cluster_cidr4(cluster: str) -> str:
    return f"10.{ {'a': 10, 'b': 20}[cluster] }.0.0/16"


def cluster_cidr6(cluster: str) -> str:
    return f"fd33:{ {'a': 10, 'b': 20}[cluster] }::/32"


@dataclass
class Lab:
    """Namespaces of one test; ``ns(role)`` names them, ``close`` deletes them all."""

    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    created: list[str] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"{PREFIX}{self.suffix}-{role}"

    def add_ns(self, role: str) -> str:
        """A namespace with ``lo`` up and IPv6 duplicate address detection off, set before
        any interface exists so that no address ever changes state behind a test's back."""
        name = self.ns(role)
        sh("ip", "netns", "add", name)
        self.created.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        for key in ("net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"):
            sh("ip", "netns", "exec", name, "sysctl", "-qw", f"{key}=0")
        return name

    def close(self) -> None:
        for name in reversed(self.created):
            for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                sh("kill", pid, check=False)
            sh("ip", "netns", "del", name, check=False)
        self.created.clear()

    def build(self, nodes: Sequence[Node], strict_rp_filter: bool = True) -> None:
        """A switch namespace joining every node's ``eth0``, and a pod behind each node.

        Each cluster's nodes route each other's pod CIDRs over the underlay (the CNI's
        job); nothing routes between clusters until the agent does.
        """
        switch = self.add_ns("sw")
        sh("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", switch, "link", "set", "br0", "up")
        for node in nodes:
            ns = self.add_ns(node.name)
            port = f"p-{node.name}"
            sh("ip", "-n", switch, "link", "add", port, "type", "veth", "peer", "eth0", "netns", ns)
            sh("ip", "-n", switch, "link", "set", port, "master", "br0", "up")
            strict = "1" if strict_rp_filter else "0"
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.conf.all.rp_filter={strict}")
            sh("ip", "-n", ns, "addr", "add", f"{node.underlay4}/24", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{node.underlay6}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            self._add_pod(node, ns)
        for node in nodes:
            for peer in nodes:
                if peer.cluster == node.cluster and peer != node:
                    ns = self.ns(node.name)
                    sh("ip", "-n", ns, "route", "add", peer.pod_cidr4, "via", peer.underlay4)
                    sh("ip", "-n", ns, "route", "add", peer.pod_cidr6, "via", peer.underlay6)

    def _add_pod(self, node: Node, node_ns: str) -> None:
        pod = self.add_ns(f"{node.name}-pod")
        sh("ip", "-n", node_ns, "link", "add", "pod0", "type", "veth", "peer", "eth0", "netns", pod)
        gateway4 = node.pod_cidr4.replace("0/24", "1")
        gateway6 = node.pod_cidr6.replace("::/64", "::1")
        sh("ip", "-n", node_ns, "addr", "add", f"{gateway4}/24", "dev", "pod0")
        sh("ip", "-n", node_ns, "addr", "add", f"{gateway6}/64", "dev", "pod0", "nodad")
        sh("ip", "-n", node_ns, "link", "set", "pod0", "up")
        sh("ip", "-n", pod, "addr", "add", f"{node.pod4}/24", "dev", "eth0")
        sh("ip", "-n", pod, "addr", "add", f"{node.pod6}/64", "dev", "eth0", "nodad")
        sh("ip", "-n", pod, "link", "set", "eth0", "up")
        sh("ip", "-n", pod, "route", "add", "default", "via", gateway4)
        sh("ip", "-n", pod, "-6", "route", "add", "default", "via", gateway6)

    def ping(self, source_role: str, address: str) -> bool:
        """ICMP echo from a namespace (see ``echo.py``); True when a reply came back."""
        result = sh("ip", "netns", "exec", self.ns(source_role), sys.executable, ECHO, address,
                    check=False)  # fmt: skip
        return result.returncode == 0


def device(node: Node, name: str) -> Device:
    prefix = 16
    return Device(
        name=name,
        addr=f"{node.tunnel(name)}/{prefix}",
        mac=node.mac(name),
        bind_dev="eth0",
        id={"vx-bridge": 54, "vx-local": 55, "vx-bridge-6": 64, "vx-local-6": 65}[name],
        port={"vx-bridge": 4876, "vx-local": 4877, "vx-bridge-6": 4866, "vx-local-6": 4867}[name],
    )


def peer_entries(node: Node, peer: Node, name: str) -> tuple[list[Fdb], list[Arp]]:
    """FDB (flood and unicast) and neighbour entries on ``name`` towards ``peer``."""
    underlay = peer.underlay6 if name.endswith("-6") else peer.underlay4
    fdbs = [
        Fdb(ip=underlay, mac="00:00:00:00:00:00", dev=name),
        Fdb(ip=underlay, mac=peer.mac(name), dev=name),
    ]
    return fdbs, [Arp(ip=peer.tunnel(name), mac=peer.mac(name), dev=name)]


def p2p_spec(node: Node, peers: Sequence[Node]) -> NodeConfigSpec:
    """Every node has vx-bridge(-6) and routes other clusters' node pod CIDRs directly."""
    devices = [device(node, "vx-bridge"), device(node, "vx-bridge-6")]
    fdbs: list[Fdb] = []
    arps: list[Arp] = []
    routes: list[Route] = []
    for peer in peers:
        for name in ("vx-bridge", "vx-bridge-6"):
            more_fdbs, more_arps = peer_entries(node, peer, name)
            fdbs += more_fdbs
            arps += more_arps
        if peer.cluster != node.cluster:
            routes.append(Route(cidr=peer.pod_cidr4, gw=peer.tunnel("vx-bridge"), dev="vx-bridge"))
            routes.append(
                Route(cidr=peer.pod_cidr6, gw=peer.tunnel("vx-bridge-6"), dev="vx-bridge-6")
            )
    return NodeConfigSpec(
        devices=tuple(devices), routes=tuple(routes), fdbs=tuple(fdbs), arps=tuple(arps)
    )


def gateway_spec(
    node: Node, gateway: Node, internal: Sequence[Node], remote_gateways: Sequence[Node]
) -> NodeConfigSpec:
    """Gateway mode: internal nodes reach their gateway over vx-local(-6); gateways reach
    each other over vx-bridge(-6) and route the other clusters' CIDRs there."""
    devices = [device(node, "vx-local"), device(node, "vx-local-6")]
    fdbs: list[Fdb] = []
    arps: list[Arp] = []
    routes: list[Route] = []
    local_peers = internal if node == gateway else [gateway]
    for peer in local_peers:
        for name in ("vx-local", "vx-local-6"):
            more_fdbs, more_arps = peer_entries(node, peer, name)
            fdbs += more_fdbs
            arps += more_arps
    if node == gateway:
        devices += [device(node, "vx-bridge"), device(node, "vx-bridge-6")]
        for remote in remote_gateways:
            for name in ("vx-bridge", "vx-bridge-6"):
                more_fdbs, more_arps = peer_entries(node, remote, name)
                fdbs += more_fdbs
                arps += more_arps
            routes.append(
                Route(
                    cidr=cluster_cidr4(remote.cluster),
                    gw=remote.tunnel("vx-bridge"),
                    dev="vx-bridge",
                )
            )
            routes.append(
                Route(
                    cidr=cluster_cidr6(remote.cluster),
                    gw=remote.tunnel("vx-bridge-6"),
                    dev="vx-bridge-6",
                )
            )
    else:
        for remote in remote_gateways:
            routes.append(
                Route(
                    cidr=cluster_cidr4(remote.cluster),
                    gw=gateway.tunnel("vx-local"),
                    dev="vx-local",
                )
            )
            routes.append(
                Route(
                    cidr=cluster_cidr6(remote.cluster),
                    gw=gateway.tunnel("vx-local-6"),
                    dev="vx-local-6",
                )
            )
    return NodeConfigSpec(
        devices=tuple(devices), routes=tuple(routes), fdbs=tuple(fdbs), arps=tuple(arps)
    )
