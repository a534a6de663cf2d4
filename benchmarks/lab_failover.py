"""Gateway failover in the lab (BENCHMARKS.md section 4): how long pods lose their peers.

    python benchmarks/lab_failover.py [--runs 1] [--interval 0.1] [--observe 12]

Why: the failover figure users feel is the longest silence of a running connection when
the gateway node dies, from the process kill to the first reply through the new gateway;
it adds up the lease expiry, the election, the planner, the store and every agent's apply.

Each run builds a fresh gateway-mode lab (2 clusters x 2 nodes, IPv4) with ``kosmosctl lab
up``'s own code, pings (``ping -D``, one every ``--interval`` seconds) from the pod of
cluster1's non-gateway node to the pod of cluster2's non-gateway node, then kills cluster1's
gateway node as ``kosmosctl lab kill-node`` does (SIGKILL of its processes, its link cut)
and keeps pinging for ``--observe`` seconds. The longest gap between two consecutive
replies is the figure. Prints one JSON line per run. Needs root; the lab is named
``fo<hex>`` (namespaces ``cl-fo<hex>-*``), lives in a temporary state directory and is
always removed, ping included (stopped by its PID).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from clusterlink.api.constants import ROLE_GATEWAY
from clusterlink.lab.addressing import LabPlan, LabSpec, NodePlan, PodPlan, plan_lab
from clusterlink.lab.lab import down, kill_node, up
from clusterlink.lab.naming import Target
from clusterlink.lab.state import LabState
from clusterlink.store import open_store

TARGET_SECONDS = 3.0
WARM_UP_SECONDS = 2.0
_REPLY = re.compile(r"^\[(?P<at>\d+\.\d+)\] \d+ bytes from .*icmp_seq=(?P<seq>\d+)")
_SUMMARY = re.compile(r"(?P<sent>\d+) packets transmitted, (?P<received>\d+) received")


@dataclass(frozen=True)
class Settings:
    runs: int
    interval: float
    observe: float


@dataclass(frozen=True)
class PingLog:
    """What ``ping -D`` printed: reply times (epoch seconds) and its closing counts."""

    replies: tuple[float, ...]
    sent: int
    received: int


@dataclass(frozen=True)
class Failover:
    killed_gateway: str
    new_gateway: str
    source: str
    destination: str
    killed_at: float
    log: PingLog


def parse_ping(output: str) -> PingLog:
    replies = tuple(
        float(match["at"]) for line in output.splitlines() if (match := _REPLY.match(line))
    )
    summary = _SUMMARY.search(output)
    sent = int(summary["sent"]) if summary else 0
    received = int(summary["received"]) if summary else len(replies)
    return PingLog(replies, sent, received)


def longest_gap(replies: tuple[float, ...]) -> float:
    ordered = sorted(replies)
    return max((b - a for a, b in itertools.pairwise(ordered)), default=0.0)


def end_of_longest_gap(replies: tuple[float, ...]) -> float:
    """When replies came back after the longest silence (0.0 with fewer than two)."""
    ordered = sorted(replies)
    pairs = list(itertools.pairwise(ordered))
    return max(pairs, key=lambda pair: pair[1] - pair[0])[1] if pairs else 0.0


def gateway_of(state: LabState, plan: LabPlan, cluster: str) -> NodePlan:
    """The node whose ClusterNode carries the gateway role in the control store."""
    store = open_store(state.control_store)
    try:
        for node in plan.cluster(cluster).nodes:
            roles = (store.get("ClusterNode", node.cluster_node).get("spec") or {}).get("roles")
            if ROLE_GATEWAY in (roles or []):
                return node
    finally:
        store.close()
    raise RuntimeError(f"{cluster} has no gateway")


def other_pod(plan: LabPlan, cluster: str, not_on: NodePlan) -> PodPlan:
    return next(n for n in plan.cluster(cluster).nodes if n.name != not_on.name).pods[0]


def start_ping(source: PodPlan, address: str, interval: float) -> subprocess.Popen[str]:
    """``ip netns exec`` execs ping, so the PID is ping's own."""
    argv = ["ip", "netns", "exec", source.namespace, "ping", "-D", "-n", "-W", "1"]
    argv += ["-i", str(interval), address]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_ping(ping: subprocess.Popen[str]) -> str:
    """SIGINT makes ping print its summary; the PID is ours (``Popen``)."""
    ping.send_signal(signal.SIGINT)
    try:
        output, _ = ping.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        ping.kill()
        output, _ = ping.communicate()
    return output


def measure(spec: LabSpec, state_root: Path, settings: Settings) -> Failover:
    state = up(spec, state_root)
    plan = plan_lab(spec)
    gateway = gateway_of(state, plan, "cluster1")
    source = other_pod(plan, "cluster1", gateway)
    destination = other_pod(plan, "cluster2", gateway_of(state, plan, "cluster2"))
    assert destination.ip4 is not None
    ping = start_ping(source, destination.ip4, settings.interval)
    try:
        time.sleep(WARM_UP_SECONDS)
        killed_at = time.time()
        kill_node(spec.name, state_root, Target("cluster1", gateway.name))
        time.sleep(settings.observe)
    finally:
        output = stop_ping(ping)
    new_gateway = gateway_of(state, plan, "cluster1")
    return Failover(
        killed_gateway=gateway.path,
        new_gateway=new_gateway.path,
        source=source.path,
        destination=f"{destination.path} {destination.ip4}",
        killed_at=killed_at,
        log=parse_ping(output),
    )


def summary(result: Failover, settings: Settings) -> dict[str, object]:
    gap_end = end_of_longest_gap(result.log.replies)
    gap = round(longest_gap(result.log.replies), 3)
    return {
        "case": "failover-gateway",
        "longest_gap_s": gap,
        "gap_seconds": gap,
        "lost": result.log.sent - result.log.received,
        "sent": result.log.sent,
        "received": result.log.received,
        "recovered_after_kill_s": round(gap_end - result.killed_at, 3) if gap_end else None,
        "interval_s": settings.interval,
        "killed_gateway": result.killed_gateway,
        "new_gateway": result.new_gateway,
        "source": result.source,
        "destination": result.destination,
        "target_s": TARGET_SECONDS,
        "meets_target": gap <= TARGET_SECONDS and gap_end > result.killed_at,
    }


def run_once(settings: Settings) -> dict[str, object]:
    spec = LabSpec(
        name=f"fo{secrets.token_hex(3)}", clusters=2, nodes=2, mode="gateway", ip_family="ipv4"
    )
    with tempfile.TemporaryDirectory(prefix="clbench-failover-") as directory:
        state_root = Path(directory)
        try:
            return summary(measure(spec, state_root, settings), settings)
        finally:
            down(spec.name, state_root)


def parse_settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="fresh labs, one JSON line each")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between pings")
    parser.add_argument("--observe", type=float, default=12.0, help="seconds after the kill")
    args = parser.parse_args(argv)
    return Settings(runs=args.runs, interval=args.interval, observe=args.observe)


def main(argv: list[str]) -> None:
    settings = parse_settings(argv)
    for _ in range(settings.runs):
        print(json.dumps(run_once(settings)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
