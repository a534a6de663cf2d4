"""Data plane throughput in the lab against the hand-made path (BENCHMARKS.md section 3).

    python benchmarks/lab_throughput.py [--runs 3] [--seconds 3] [--modes p2p gateway]

Why: ClusterLink must cost nothing on the wire compared with the same VXLAN path an
operator would configure by hand (``reference/lab-recipe/20-p2p.sh``, ``30-gateway.sh``),
and it must keep TCP flowing where a PMTU black hole stalls the hand-made path.

Per mode, two federations of 2 clusters x 2 nodes (IPv4) live side by side:

- the lab: ``kosmosctl lab up``'s own code, ClusterLink running (namespaces
  ``cl-tp<hex>-*``), without the doctor's floaters;
- the baseline: the same topology built by the same lab wiring code (router, one underlay
  bridge per cluster, Calico-style pods, host-gw routes), with the namespaces renamed to
  ``clbase-<hex>-*`` and no ClusterLink; its VXLAN devices, FDB and neighbour entries,
  table-200 routes, rule and rp_filter are then configured by hand with iproute2 exactly as
  the recipe does. In gateway mode its gateways are the nodes the lab elected, so both
  paths have the same hops.

iperf3 TCP (``-t --seconds``, first second omitted) from the pod of cluster1's last node
that is not its elected gateway to the pod of cluster2's (the same nodes in both
federations), ``--runs`` times, alternating baseline and lab; medians. In gateway mode a
third path is measured in the same rounds: the baseline whose gateways also masquerade
host-network traffic as ClusterLink's gateways must (``baseline_host_nat_gbit``), which
separates the cost of that connection tracking from ClusterLink's own. The
``mss-icmp-blocked`` case then drops the ICMP "fragmentation needed" the source node sends
back to its pod (the pod keeps MTU 1500, the VXLAN hop has 1450: a PMTU black hole, as
``50-mtu.sh`` case 2) and measures again: the hand-made path stalls, ClusterLink clamps
the MSS. Prints one JSON line per case.
Needs root and iperf3; every namespace is deleted by name and every iperf3 stopped by its
PID at the end, also on error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from clusterlink.api.constants import ROLE_GATEWAY
from clusterlink.lab import naming, topology
from clusterlink.lab.addressing import (
    ClusterPlan,
    LabPlan,
    LabSpec,
    Mode,
    NodePlan,
    PodPlan,
    plan_lab,
)
from clusterlink.lab.lab import down, up
from clusterlink.store import open_store

TARGET_RATIO = 0.95
PORT = 5201
TABLE = 200
BRIDGE = ("vx-bridge", 54, 4876, "198.19", "0e:54")  # name, VNI, port, /16 prefix, MAC prefix
LOCAL = ("vx-local", 55, 4877, "198.18", "0e:55")
BASELINE_PREFIX = "clbase-"
MSS_TABLE = "clbench_mss"
NAT_TABLE = "clbench_nat"
HOST_NAT = "baseline+host-nat"
SERVER_START_SECONDS = 5.0
Measured = TypeVar("Measured")


@dataclass(frozen=True)
class Settings:
    runs: int
    seconds: int
    modes: tuple[Mode, ...]


@dataclass(frozen=True)
class Endpoints:
    """One measured path: iperf3 client pod (and its node) to server pod."""

    label: str
    source: PodPlan
    source_node: NodePlan
    destination: PodPlan


@dataclass(frozen=True)
class Sample:
    gbit: float
    retransmits: int
    error: str


# --- running things in namespaces ------------------------------------------------------


def run(argv: list[str], stdin: str | None = None, timeout: float = 60) -> str:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, check=False, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def in_namespace(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


# --- the baseline: the lab's topology, ClusterLink's path configured by hand ------------


def renamed(plan: LabPlan, prefix: str) -> LabPlan:
    """The same plan with every namespace under ``prefix`` instead of the lab's prefix."""
    old = naming.lab_prefix(plan.spec.name)

    def rename(namespace: str) -> str:
        return prefix + namespace.removeprefix(old)

    clusters = tuple(
        dataclasses.replace(
            cluster,
            nodes=tuple(
                dataclasses.replace(
                    node,
                    namespace=rename(node.namespace),
                    pods=tuple(
                        dataclasses.replace(pod, namespace=rename(pod.namespace))
                        for pod in node.pods
                    ),
                )
                for node in cluster.nodes
            ),
        )
        for cluster in plan.clusters
    )
    return dataclasses.replace(
        plan,
        router_namespace=rename(plan.router_namespace),
        control_namespace=rename(plan.control_namespace),
        clusters=clusters,
    )


def build_topology(plan: LabPlan) -> None:
    """Router, underlays, nodes and pods, wired by the lab's own code (no ClusterLink)."""
    topology.create_namespace(plan.router_namespace, forwarding=True)
    topology.build_router_bridges(plan)
    for cluster in plan.clusters:
        for node in cluster.nodes:
            topology.create_namespace(node.namespace, forwarding=True)
            topology.attach_node(plan, cluster, node)
            for pod in node.pods:
                topology.create_namespace(pod.namespace, forwarding=False)
                topology.attach_pod(node, pod)
        topology.add_host_gw_routes(cluster)


def delete_topology(plan: LabPlan) -> None:
    for namespace in reversed((plan.router_namespace, *namespace_names(plan))):
        topology.delete_namespace(namespace)


def namespace_names(plan: LabPlan) -> tuple[str, ...]:
    return tuple(name for name in plan.namespaces() if name != plan.control_namespace)


def tunnel_ip(device: tuple[str, int, int, str, str], node: NodePlan) -> str:
    """Kosmos' GenerateVxlanIP with a /16: the prefix, then the node IP's last two bytes."""
    assert node.ip4 is not None
    return f"{device[3]}.{'.'.join(node.ip4.split('.')[2:])}"


def tunnel_mac(device: tuple[str, int, int, str, str], node: NodePlan) -> str:
    assert node.ip4 is not None
    third, fourth = (int(part) for part in node.ip4.split(".")[2:])
    return f"{device[4]}:00:00:{third:02x}:{fourth:02x}"


def create_vxlan(node: NodePlan, device: tuple[str, int, int, str, str]) -> None:
    name, vni, port = device[0], device[1], device[2]
    topology.run_batch(
        node.namespace,
        [
            f"link add {name} address {tunnel_mac(device, node)} type vxlan id {vni} "
            f"dstport {port} local {node.ip4} dev eth0 nolearning",
            f"addr add {tunnel_ip(device, node)}/16 dev {name}",
            f"link set {name} up",
        ],
    )
    topology.set_sysctls(node.namespace, [(f"net.ipv4.conf.{name}.rp_filter", topology.LOOSE)])


def add_peer(node: NodePlan, device: tuple[str, int, int, str, str], peer: NodePlan) -> None:
    """FDB (all-zero and the peer's MAC to its underlay IP) and a permanent neighbour."""
    name, mac = device[0], tunnel_mac(device, peer)
    fdb = [
        f"fdb append 00:00:00:00:00:00 dev {name} dst {peer.ip4} self permanent",
        f"fdb append {mac} dev {name} dst {peer.ip4} self permanent",
    ]
    run(["bridge", "-n", node.namespace, "-batch", "-"], stdin="\n".join(fdb) + "\n")
    topology.run_batch(
        node.namespace,
        [f"neigh replace {tunnel_ip(device, peer)} lladdr {mac} dev {name} nud permanent"],
    )


def add_route(
    node: NodePlan, cidr: str, device: tuple[str, int, int, str, str], via: NodePlan
) -> None:
    topology.run_batch(
        node.namespace,
        [f"route replace {cidr} via {tunnel_ip(device, via)} dev {device[0]} onlink table {TABLE}"],
    )


def add_rule(node: NodePlan) -> None:
    topology.run_batch(node.namespace, [f"rule add pref {TABLE} lookup {TABLE}"])


def configure_p2p_by_hand(plan: LabPlan) -> None:
    """``20-p2p.sh`` (IPv4): every node peers with every node, routes the other clusters'
    node pod CIDRs."""
    for node in plan.nodes:
        create_vxlan(node, BRIDGE)
        add_rule(node)
    for node in plan.nodes:
        for peer in plan.nodes:
            if peer.name == node.name and peer.cluster == node.cluster:
                continue
            add_peer(node, BRIDGE, peer)
            if peer.cluster != node.cluster and peer.pod_cidr4:
                add_route(node, peer.pod_cidr4, BRIDGE, peer)


def configure_gateway_by_hand(plan: LabPlan, gateways: dict[str, str]) -> None:
    """``30-gateway.sh`` (IPv4) with the given gateway node per cluster."""
    gateway_of = {
        c.name: next(n for n in c.nodes if n.name == gateways[c.name]) for c in plan.clusters
    }
    for cluster in plan.clusters:
        gateway = gateway_of[cluster.name]
        others = [c for c in plan.clusters if c.name != cluster.name]
        for node in cluster.nodes:
            create_vxlan(node, LOCAL)
            add_rule(node)
        create_vxlan(gateway, BRIDGE)
        for other in others:
            add_peer(gateway, BRIDGE, gateway_of[other.name])
            for cidr in cluster_cidrs4(other):
                add_route(gateway, cidr, BRIDGE, gateway_of[other.name])
        for node in cluster.nodes:
            if node.name == gateway.name:
                continue
            add_peer(gateway, LOCAL, node)
            add_peer(node, LOCAL, gateway)
            for other in others:
                for cidr in cluster_cidrs4(other):
                    add_route(node, cidr, LOCAL, gateway)


def cluster_cidrs4(cluster: ClusterPlan) -> list[str]:
    return [cidr for cidr in cluster.pod_cidrs if ":" not in cidr]


@contextmanager
def baseline(mode: Mode, gateways: dict[str, str]) -> Iterator[LabPlan]:
    token = secrets.token_hex(3)
    plan = renamed(
        plan_lab(LabSpec(name=f"b{token}", mode=mode, ip_family="ipv4")),
        f"{BASELINE_PREFIX}{token}-",
    )
    try:
        build_topology(plan)
        if mode == "p2p":
            configure_p2p_by_hand(plan)
        else:
            configure_gateway_by_hand(plan, gateways)
        yield plan
    finally:
        delete_topology(plan)


# --- the lab --------------------------------------------------------------------------


def elected_gateways(control_store: str, plan: LabPlan) -> dict[str, str]:
    """Cluster name -> gateway node name, as the control store says (none in P2P)."""
    store = open_store(control_store)
    try:
        found: dict[str, str] = {}
        for node in plan.nodes:
            spec = store.get("ClusterNode", node.cluster_node).get("spec") or {}
            if ROLE_GATEWAY in (spec.get("roles") or []):
                found[node.cluster] = node.name
        return found
    finally:
        store.close()


@contextmanager
def running_lab(mode: Mode) -> Iterator[tuple[LabPlan, dict[str, str]]]:
    # No floaters: they are the doctor's probes, deployed for a check and removed after it
    # (``kosmosctl dr``), not part of a running installation.
    spec = LabSpec(name=f"tp{secrets.token_hex(3)}", mode=mode, ip_family="ipv4", floaters=False)
    with tempfile.TemporaryDirectory(prefix="clbench-throughput-") as directory:
        state_root = Path(directory)
        try:
            state = up(spec, state_root)
            plan = plan_lab(spec)
            yield plan, elected_gateways(state.control_store, plan)
        finally:
            down(spec.name, state_root)


def endpoints(label: str, plan: LabPlan, gateways: dict[str, str]) -> Endpoints:
    """Client on cluster1's last non-gateway node, server on cluster2's."""

    def non_gateway(cluster: str) -> NodePlan:
        return [n for n in plan.cluster(cluster).nodes if n.name != gateways.get(cluster)][-1]

    source_node = non_gateway("cluster1")
    return Endpoints(label, source_node.pods[0], source_node, non_gateway("cluster2").pods[0])


# --- measuring ------------------------------------------------------------------------


def iperf3(path: Endpoints, seconds: int) -> Sample:
    """One TCP test against a one-shot server started (and stopped) by PID here."""
    assert path.destination.ip4 is not None
    server = subprocess.Popen(
        in_namespace(path.destination.namespace, "iperf3", "-s", "-1", "-p", str(PORT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(path.destination.namespace)
        test = ["-c", path.destination.ip4, "-p", str(PORT), "-t", str(seconds), "-O", "1", "-J"]
        client = subprocess.run(
            in_namespace(path.source.namespace, "iperf3", *test),
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 30,
        )
        return sample_of(client.stdout)
    except subprocess.TimeoutExpired:
        return Sample(0.0, 0, "client timed out")
    finally:
        stop(server)


def wait_listening(namespace: str) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        listening = run(in_namespace(namespace, "ss", "-Hltn", f"sport = :{PORT}"))
        if listening.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"iperf3 server in {namespace} not listening")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def sample_of(output: str) -> Sample:
    try:
        report = json.loads(output)
    except ValueError:
        return Sample(0.0, 0, f"no JSON from iperf3: {output[:200]!r}")
    if "error" in report and "end" not in report:
        return Sample(0.0, 0, str(report["error"]))
    end = report.get("end") or {}
    received = (end.get("sum_received") or {}).get("bits_per_second", 0.0)
    retransmits = (end.get("sum_sent") or {}).get("retransmits", 0)
    return Sample(received / 1e9, int(retransmits), str(report.get("error", "")))


def interleaved(
    paths: tuple[Endpoints, ...], runs: int, measure: Callable[[Endpoints], Measured]
) -> dict[str, list[Measured]]:
    """``runs`` rounds, each measuring every path once (drift spreads over all of them)."""
    samples: dict[str, list[Measured]] = {path.label: [] for path in paths}
    for _ in range(runs):
        for path in paths:
            samples[path.label].append(measure(path))
    return samples


def median_gbit(samples: list[Sample]) -> float:
    return round(statistics.median(s.gbit for s in samples), 3)


def best_ratio(lab: list[Sample], base: list[Sample]) -> float | None:
    """Best run against best run: on a shared machine, the runs least disturbed by others."""
    best = max(s.gbit for s in base)
    return round(max(s.gbit for s in lab) / best, 3) if best else None


@contextmanager
def icmp_frag_needed_dropped(node: NodePlan) -> Iterator[Callable[[], int]]:
    """The node drops the ICMP "fragmentation needed" it generates (a PMTU black hole in
    front of its pods); yields a reader of how many it dropped."""
    chain = (
        "type filter hook output priority 0; policy accept;\n"
        "icmp type destination-unreachable icmp code frag-needed counter drop"
    )

    def dropped() -> int:
        listing = run(in_namespace(node.namespace, "nft", "list", "table", "ip", MSS_TABLE))
        words = listing.split()
        return int(words[words.index("packets") + 1]) if "packets" in words else 0

    with nft_table((node.namespace,), MSS_TABLE, chain):
        yield dropped


@contextmanager
def nft_table(namespaces: Sequence[str], table: str, chain: str) -> Iterator[None]:
    """An nft table of this benchmark's own, with one chain of ``chain``'s lines, in each
    namespace for the block; deleted afterwards from every namespace it was added to."""
    rules = f"table ip {table} {{\n  chain c {{\n{chain}\n  }}\n}}\n"
    added: list[str] = []
    try:
        for namespace in namespaces:
            run(in_namespace(namespace, "nft", "-f", "-"), stdin=rules)
            added.append(namespace)
        yield
    finally:
        for namespace in added:
            run(in_namespace(namespace, "nft", "delete", "table", "ip", table))


def forget_path_mtu(path: Endpoints) -> None:
    """The client pod must not remember a PMTU learnt in an earlier test."""
    topology.run_batch(path.source.namespace, ["route flush cache"])


def blackhole_sample(path: Endpoints, seconds: int) -> tuple[Sample, int]:
    with icmp_frag_needed_dropped(path.source_node) as dropped:
        forget_path_mtu(path)
        sample = iperf3(path, seconds)
        return sample, dropped()


# --- the cases ------------------------------------------------------------------------


def throughput_case(
    mode: Mode, samples: dict[str, list[Sample]], path: Endpoints
) -> dict[str, object]:
    gbit, base = median_gbit(samples["lab"]), median_gbit(samples["baseline"])
    ratio = round(gbit / base, 3) if base else None
    return {
        "case": f"throughput-{mode}",
        "gbit": gbit,
        "baseline_gbit": base,
        "ratio": ratio,
        "best_ratio": best_ratio(samples["lab"], samples["baseline"]),
        "runs_gbit": [round(s.gbit, 3) for s in samples["lab"]],
        "baseline_runs_gbit": [round(s.gbit, 3) for s in samples["baseline"]],
        "retransmits_median": statistics.median(s.retransmits for s in samples["lab"]),
        "baseline_retransmits_median": statistics.median(
            s.retransmits for s in samples["baseline"]
        ),
        **host_nat_figures(gbit, samples.get(HOST_NAT)),
        "errors": sorted({s.error for s in samples["lab"] + samples["baseline"] if s.error}),
        "path": f"{path.source.path} -> {path.destination.path}",
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio is not None and ratio >= TARGET_RATIO,
    }


def host_nat_figures(gbit: float, samples: list[Sample] | None) -> dict[str, object]:
    """Gateway mode: the hand-made path with the gateways' host-network NAT as well."""
    if not samples:
        return {}
    base = median_gbit(samples)
    return {
        "baseline_host_nat_gbit": base,
        "ratio_vs_host_nat": round(gbit / base, 3) if base else None,
    }


def mss_case(
    lab: list[tuple[Sample, int]],
    base: list[tuple[Sample, int]],
    path: Endpoints,
    open_path_gbit: float,
) -> dict[str, object]:
    """``open_path_gbit``: the lab's median on the same path without the black hole."""
    gbit = round(statistics.median(s.gbit for s, _ in lab), 3)
    return {
        "case": "mss-icmp-blocked",
        "gbit": gbit,
        "baseline_gbit": round(statistics.median(s.gbit for s, _ in base), 3),
        "ratio_vs_open_path": round(gbit / open_path_gbit, 3) if open_path_gbit else None,
        "runs_gbit": [round(s.gbit, 3) for s, _ in lab],
        "baseline_runs_gbit": [round(s.gbit, 3) for s, _ in base],
        "icmp_dropped": [n for _, n in lab],
        "baseline_icmp_dropped": [n for _, n in base],
        "path": f"{path.source.path} -> {path.destination.path}",
        "tcp_flows": gbit > 0.1,
    }


@contextmanager
def host_network_nat(plan: LabPlan, gateways: dict[str, str]) -> Iterator[None]:
    """The baseline's gateways get the two MASQUERADE rules ClusterLink gives gateways for
    host-network traffic (upstream's HostNetwork rules), in a table of their own that is
    deleted afterwards: a nat hook turns on connection tracking for every forwarded packet,
    which is part of what the gateway path costs and what the hand-made recipe leaves out."""
    chain = (
        "type nat hook postrouting priority srcnat; policy accept;\n"
        'ip saddr 198.18.0.0/16 oifname "vx-bridge" masquerade\n'
        "ip saddr 198.19.0.0/16 masquerade"
    )
    gateway_nodes = [plan.node(cluster, node).namespace for cluster, node in gateways.items()]
    with nft_table(gateway_nodes, NAT_TABLE, chain):
        yield


def measure_mode(mode: Mode, settings: Settings) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    with running_lab(mode) as (lab_plan, gateways), baseline(mode, gateways) as base_plan:
        lab_path = endpoints("lab", lab_plan, gateways)
        base_path = endpoints("baseline", base_plan, gateways)
        paths: tuple[Endpoints, ...] = (base_path, lab_path)
        if mode == "gateway":
            paths += (dataclasses.replace(base_path, label=HOST_NAT),)

        def measure(path: Endpoints) -> Sample:
            if path.label != HOST_NAT:
                return iperf3(path, settings.seconds)
            with host_network_nat(base_plan, gateways):
                return iperf3(path, settings.seconds)

        samples = interleaved(paths, settings.runs, measure)
        lines.append(throughput_case(mode, samples, lab_path))
        if mode == "p2p":
            blocked = interleaved(
                paths, settings.runs, lambda p: blackhole_sample(p, settings.seconds)
            )
            open_gbit = median_gbit(samples["lab"])
            lines.append(mss_case(blocked["lab"], blocked["baseline"], lab_path, open_gbit))
    return lines


def parse_settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="iperf3 -t")
    parser.add_argument(
        "--modes", nargs="+", choices=("p2p", "gateway"), default=["p2p", "gateway"]
    )
    args = parser.parse_args(argv)
    return Settings(runs=args.runs, seconds=args.seconds, modes=tuple(args.modes))


def main(argv: list[str]) -> None:
    settings = parse_settings(argv)
    for mode in settings.modes:
        for line in measure_mode(mode, settings):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
