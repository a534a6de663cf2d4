"""Planner benchmark on the synthetic federations of BENCHMARKS.md section 1.

    python benchmarks/planner.py fed-gateway-200x3 fed-p2p-20x20 [--incremental] [--enumerate]

Prints one JSON line per case. ``seconds`` is the full computation (inputs built
beforehand, as upstream's figure times only the calculation); the entry counts come from
the plans. ``--enumerate`` also walks every entry of every plan once (what writing all
NodeConfigs costs at least) and checks that the walk agrees with the counts.
``--incremental`` adds ``failover_ms`` (one cluster's gateway role moved to another node)
and ``join_ms`` (one cluster of 3 nodes added), each after the full computation.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from typing import Any

from clusterlink.api.models import Cluster, ClusterNode
from clusterlink.planner import NodePlan, Planner, stable_mac

CASE = re.compile(r"^fed-(p2p|gateway)-(\d+)x(\d+)$")


def build_cluster(index: int, mode: str) -> Cluster:
    hi, lo = divmod(index, 256)
    return Cluster.model_validate(
        {
            "metadata": {"name": f"c{index:04d}"},
            "spec": {
                "clusterLinkOptions": {
                    "networkType": mode,
                    "ipFamily": "ipv4",
                    "localCIDRs": {"ip": "210.0.0.0/8", "ip6": "9480::/16"},
                    "bridgeCIDRs": {"ip": "220.0.0.0/8", "ip6": "9470::/16"},
                }
            },
            "status": {
                "clusterLinkStatus": {
                    "podCIDRs": [f"10.{hi}.{lo}.0/24"],
                    "serviceCIDRs": [f"11.{hi}.{lo}.0/24"],
                }
            },
        }
    )


def build_node(cluster: int, node: int, *, gateway: bool) -> ClusterNode:
    hi, lo = divmod(cluster, 256)
    name = f"c{cluster:04d}"
    return ClusterNode.model_validate(
        {
            "metadata": {"name": f"{name}-n{node:03d}"},
            "spec": {
                "clusterName": name,
                "nodeName": f"n{node:03d}",
                "interfaceName": "eth0",
                "ip": f"172.{16 + hi}.{lo}.{node + 1}",
                "podCIDRs": [f"10.{hi}.{lo}.{node * 16}/28"],
                "roles": ["gateway"] if gateway else [],
            },
        }
    )


def build_federation(
    mode: str, clusters: int, nodes: int
) -> tuple[list[Cluster], list[ClusterNode]]:
    return (
        [build_cluster(c, mode) for c in range(clusters)],
        [build_node(c, n, gateway=n == 0) for c in range(clusters) for n in range(nodes)],
    )


def totals(plans: dict[str, NodePlan]) -> dict[str, int]:
    summed = {"devices": 0, "routes": 0, "fdbs": 0, "arps": 0, "iptables": 0}
    for plan in plans.values():
        for key, value in plan.counts().items():
            summed[key] += value
    return summed


def enumerate_all(plans: dict[str, NodePlan]) -> dict[str, int]:
    walked = {"devices": 0, "routes": 0, "fdbs": 0, "arps": 0, "iptables": 0}
    for plan in plans.values():
        walked["devices"] += len(plan.devices)
        walked["iptables"] += len(plan.iptables)
        walked["routes"] += sum(1 for _ in plan.routes())
        walked["fdbs"] += sum(1 for _ in plan.fdbs())
        walked["arps"] += sum(1 for _ in plan.arps())
    return walked


def run_case(case: str, *, incremental: bool, walk: bool) -> dict[str, Any]:
    match = CASE.match(case)
    if match is None:
        raise SystemExit(f"unknown case {case!r}: expected fed-<p2p|gateway>-<C>x<N>")
    mode, clusters, nodes = match[1], int(match[2]), int(match[3])
    cluster_objects, node_objects = build_federation(mode, clusters, nodes)
    planner = Planner(stable_mac)
    started = time.perf_counter()
    plan = planner.load(cluster_objects, node_objects)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "case": case,
        **totals(dict(plan.nodes)),
        "seconds": round(seconds, 4),
    }
    if walk:
        started = time.perf_counter()
        walked = enumerate_all(dict(plan.nodes))
        result["enumerate_seconds"] = round(time.perf_counter() - started, 3)
        result["enumerated_equals_counts"] = walked == totals(dict(plan.nodes))
    if incremental:
        target = clusters // 2
        demoted = build_node(target, 0, gateway=False)
        promoted = build_node(target, 1 % nodes, gateway=True)
        started = time.perf_counter()
        delta = planner.apply(upsert_nodes=[demoted, promoted])
        result["failover_ms"] = round((time.perf_counter() - started) * 1000, 2)
        result["failover_changed"] = len(delta.changed)
        joined = build_cluster(clusters, mode)
        joined_nodes = [build_node(clusters, n, gateway=n == 0) for n in range(3)]
        started = time.perf_counter()
        delta = planner.apply(upsert_clusters=[joined], upsert_nodes=joined_nodes)
        result["join_ms"] = round((time.perf_counter() - started) * 1000, 2)
        result["join_changed"] = len(delta.changed)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--enumerate", action="store_true", dest="walk")
    args = parser.parse_args(argv)
    for case in args.cases:
        print(json.dumps(run_case(case, incremental=args.incremental, walk=args.walk)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
