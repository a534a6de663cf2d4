"""Gateway failover through the store path: elector lease -> ClusterNode roles -> NodeConfigs.

    python benchmarks/failover_store.py [--clusters 3] [--nodes 3] [--lease-duration 2]
        [--renew-deadline 1.5] [--retry-period 0.25] [--poll-interval 0.05]

Builds a gateway-mode federation in sqlite stores under a temporary directory, starts the
network-manager and two ``clusterlink elector`` replicas (nodes n0 and n1 of cluster c0) as
real processes, waits until everything settled, then:

- ``sigkill``: SIGKILLs the leading elector (its lease must expire), restarts it;
- ``sigterm``: SIGTERMs the leading elector (it releases the lease).

For each it measures the seconds from the signal until the ClusterNode roles show the new
gateway only (``*_role_s``) and until every NodeConfig equals what the planner computes for
the new inputs (``*_nodeconfigs_s``, the failover target). Prints one JSON line. Every
process is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterlink.api.models import Cluster, ClusterNode, NodeConfigSpec
from clusterlink.planner import plan_federation
from clusterlink.store import NotFoundError, ObjectStore, open_store

ELECTED = "c0"
POLL_SECONDS = 0.005


@dataclass(frozen=True)
class Settings:
    clusters: int
    nodes: int
    lease_duration: float
    renew_deadline: float
    retry_period: float
    poll_interval: float


def cluster_document(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": f"c{index}"},
        "spec": {
            "clusterLinkOptions": {
                "networkType": "gateway",
                "ipFamily": "ipv4",
                "localCIDRs": {"ip": "198.18.0.0/16", "ip6": "fdc1:18::/48"},
                "bridgeCIDRs": {"ip": "198.19.0.0/16", "ip6": "fdc1:19::/48"},
            }
        },
    }


def link_status(index: int) -> dict[str, Any]:
    return {
        "clusterLinkStatus": {
            "podCIDRs": [f"10.{index}.0.0/16"],
            "serviceCIDRs": [f"11.{index}.0.0/16"],
        }
    }


def cluster_node_document(cluster: int, node: int) -> dict[str, Any]:
    static_gateway = cluster != 0 and node == 0
    return {
        "apiVersion": "kosmos.io/v1alpha1",
        "kind": "ClusterNode",
        "metadata": {"name": f"c{cluster}-n{node}", "labels": {"kosmos.io/cluster": f"c{cluster}"}},
        "spec": {
            "clusterName": f"c{cluster}",
            "nodeName": f"n{node}",
            "interfaceName": "eth0",
            "ip": f"192.168.{cluster}.{node + 10}",
            "podCIDRs": [f"10.{cluster}.{node}.0/24"],
            "roles": ["gateway"] if static_gateway else [],
        },
    }


def build_federation(control: ObjectStore, settings: Settings) -> None:
    for index in range(settings.clusters):
        created = control.create(cluster_document(index))
        control.update_status({**created, "status": link_status(index)})
        for node in range(settings.nodes):
            control.create(cluster_node_document(index, node))


def gateways(control: ObjectStore) -> set[str]:
    return {
        d["metadata"]["name"]
        for d in control.list("ClusterNode").items
        if d["spec"]["clusterName"] == ELECTED and "gateway" in (d["spec"].get("roles") or [])
    }


def _comparable(spec: dict[str, Any]) -> dict[str, list[str]]:
    return {
        key: sorted(json.dumps(item, sort_keys=True) for item in spec.get(key) or [])
        for key in ("devices", "routes", "iptables", "fdbs", "arps")
    }


def nodeconfigs_converged(control: ObjectStore) -> bool:
    """Every NodeConfig equals the plan of the current inputs. The plan reuses the stored
    MACs and addresses, so a device the network-manager has not written yet gets a fresh
    random MAC here and cannot match: this is a fixed point only once the writes landed."""
    clusters = [Cluster.model_validate(d) for d in control.list("Cluster").items]
    nodes = [ClusterNode.model_validate(d) for d in control.list("ClusterNode").items]
    stored = {d["metadata"]["name"]: d["spec"] for d in control.list("NodeConfig").items}
    previous = {name: NodeConfigSpec.model_validate(spec) for name, spec in stored.items()}
    plan = plan_federation(clusters, nodes, previous)
    planned = {name: _comparable(p.to_spec_document()) for name, p in plan.nodes.items()}
    return planned == {name: _comparable(spec) for name, spec in stored.items()}


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> float:
    """Monotonic time at which ``check`` first held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {check.__name__}")
        time.sleep(POLL_SECONDS)
    return time.monotonic()


@dataclass
class Federation:
    """The processes of the benchmark and the stores they share."""

    directory: Path
    settings: Settings
    processes: dict[str, subprocess.Popen[bytes]]

    def url(self, name: str) -> str:
        return f"sqlite://{self.directory / name}.db?poll_interval={self.settings.poll_interval}"

    def timing_flags(self) -> list[str]:
        s = self.settings
        return [
            "--lease-duration",
            str(s.lease_duration),
            "--renew-deadline",
            str(s.renew_deadline),
            "--retry-period",
            str(s.retry_period),
        ]

    def spawn(self, name: str, arguments: list[str]) -> None:
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log:  # a restarted replica starts a fresh log
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "clusterlink.cli.components", *arguments],
                stderr=log,
                stdout=log,
            )
        wait_for(lambda: b"/healthz" in log_path.read_bytes(), timeout=30)

    def start_network_manager(self) -> None:
        self.spawn(
            "network-manager",
            ["network-manager", "--store", self.url("control"), *self.timing_flags()],
        )

    def start_elector(self, node: str) -> None:
        arguments = ["elector", "--cluster", ELECTED, "--node", node, "--identity", node]
        arguments += ["--store", self.url("control"), "--member-store", self.url(ELECTED)]
        self.spawn(f"elector-{node}", [*arguments, *self.timing_flags()])

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def lease_holder(member: ObjectStore) -> str:
    try:
        return str(member.get("Lease", "elector", "kosmos-system")["spec"]["holderIdentity"])
    except NotFoundError:
        return ""


def fail_over(
    federation: Federation, control: ObjectStore, member: ObjectStore, signum: signal.Signals
) -> tuple[float, float, str]:
    """Signal the leading elector; seconds until the roles, then the NodeConfigs, follow."""
    leader = lease_holder(member)
    successor = "n1" if leader == "n0" else "n0"
    process = federation.processes[f"elector-{leader}"]
    started = time.monotonic()
    os.kill(process.pid, signum)

    def role_moved() -> bool:
        return gateways(control) == {f"{ELECTED}-{successor}"}

    moved = wait_for(role_moved)
    converged = wait_for(lambda: nodeconfigs_converged(control))
    process.wait(timeout=15)
    return moved - started, converged - started, leader


def run(settings: Settings) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="failover-") as directory_name:
        directory = Path(directory_name)
        control = open_store(f"sqlite://{directory / 'control.db'}")
        member = open_store(f"sqlite://{directory / ELECTED}.db")
        federation = Federation(directory, settings, {})
        try:
            build_federation(control, settings)
            federation.start_network_manager()
            federation.start_elector("n0")
            federation.start_elector("n1")
            wait_for(lambda: len(gateways(control)) == 1)
            wait_for(lambda: nodeconfigs_converged(control))

            kill_role, kill_configs, killed = fail_over(federation, control, member, signal.SIGKILL)
            federation.start_elector(killed)
            time.sleep(settings.retry_period * 4)  # the restarted replica is campaigning
            term_role, term_configs, _ = fail_over(federation, control, member, signal.SIGTERM)
        finally:
            federation.stop_all()
            member.close()
            control.close()
    return {
        "benchmark": "failover_store",
        "clusters": settings.clusters,
        "nodes_per_cluster": settings.nodes,
        "lease_duration": settings.lease_duration,
        "renew_deadline": settings.renew_deadline,
        "retry_period": settings.retry_period,
        "poll_interval": settings.poll_interval,
        "sigkill_role_s": round(kill_role, 3),
        "sigkill_nodeconfigs_s": round(kill_configs, 3),
        "sigterm_role_s": round(term_role, 3),
        "sigterm_nodeconfigs_s": round(term_configs, 3),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--lease-duration", type=float, default=2.0)
    parser.add_argument("--renew-deadline", type=float, default=1.5)
    parser.add_argument("--retry-period", type=float, default=0.25)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    options = parser.parse_args(argv)
    settings = Settings(
        options.clusters,
        options.nodes,
        options.lease_duration,
        options.renew_deadline,
        options.retry_period,
        options.poll_interval,
    )
    print(json.dumps(run(settings)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
