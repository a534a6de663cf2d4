"""The doctor's whole matrix on a lab (BENCHMARKS.md section 5).

    python benchmarks/doctor.py [--clusters 3] [--nodes 3] [--count 3] [--name bdoctor]

Builds a dual-stack P2P lab of 3 clusters x 3 nodes (a floater per node in host network
and one in pod network), waits until every floater registered, then times one complete
``kosmosctl dr --host-network`` run (every ordered pair of nodes in different clusters, pod
and host network, IPv4 and IPv6, ping + TCP + HTTP): plan, probe, collect, judge. It does
the same with twice the nodes (twice the floaters) and prints one JSON line per case,
``doctor-3x3`` and ``doctor-3x6``; the second carries ``ratio`` (target <= 2). Each lab is
removed afterwards, also on failure.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from clusterlink.cli.doctor import lab_floaters
from clusterlink.doctor.exchange import wait_for_floaters
from clusterlink.doctor.matrix import MatrixOptions
from clusterlink.doctor.session import DoctorRequest, run_doctor
from clusterlink.lab import lab as lab_ops
from clusterlink.lab.addressing import LabSpec
from clusterlink.store import open_store

STATE_ROOT = Path("/var/run/clusterlink-lab")
NAMESPACE = "kosmos-system"
REGISTRATION_WAIT = 120.0


def measure(name: str, clusters: int, nodes: int, count: int) -> dict[str, Any]:
    spec = LabSpec(name=name, clusters=clusters, nodes=nodes, mode="p2p", ip_family="all")
    lab_ops.up(spec, STATE_ROOT)
    try:
        lab = lab_floaters(name, STATE_ROOT)
        opened = {url: open_store(url) for url in lab.member_stores}
        try:
            found = wait_for_floaters(opened, NAMESPACE, lab.expected, REGISTRATION_WAIT)
        finally:
            for store in opened.values():
                store.close()
        if len(found) < len(lab.expected):
            raise RuntimeError(f"only {len(found)} of {len(lab.expected)} floaters registered")
        options = MatrixOptions(networks=("pod", "host"), count=count)
        request = DoctorRequest(
            lab.member_stores,
            lab.control_store,
            NAMESPACE,
            options,
            wait=0.0,
            expected=lab.expected,
            not_running=lab.down,
        )
        started = time.monotonic()
        run = run_doctor(request)
        seconds = time.monotonic() - started
    finally:
        lab_ops.down(name, STATE_ROOT)
    return {
        "case": f"doctor-{clusters}x{nodes}",
        "floaters": run.summary.floaters,
        "probes": run.summary.probes,
        "passed": run.summary.passed,
        "seconds": round(seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--count", type=int, default=3, help="Echoes/connects per probe.")
    parser.add_argument("--name", default="bdoctor")
    options = parser.parse_args()
    first = measure(options.name, options.clusters, options.nodes, options.count)
    print(json.dumps(first), flush=True)
    second = measure(options.name, options.clusters, options.nodes * 2, options.count)
    second["ratio"] = round(second["seconds"] / first["seconds"], 2)
    print(json.dumps(second), flush=True)


if __name__ == "__main__":
    main()
