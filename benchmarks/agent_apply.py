"""Agent data plane benchmark (BENCHMARKS.md section 2).

    python benchmarks/agent_apply.py [--routes 10000]

A NodeConfig with N routes, 2N FDB entries and N neighbours on ``vx-bridge`` (a P2P node
facing N remote nodes) is converged into a fresh network namespace; in the same run the
same entries go through ``ip -batch`` / ``bridge -batch`` into another fresh namespace (the
baseline: no reading, no diffing, no checking). Then one route changes its next hop
(converged with the baseline of the previous pass, as the agent does on a NodeConfig
update), then a resync with nothing to do: every table dumped and diffed, as the agent's
periodic resync does (``resync_ms``, with the spec's printed form kept from the previous
pass like the agent keeps it; ``resync_cold_ms``, the first pass of a fresh process).

The machine is shared and noisy: the full apply and its baseline run ``--repeat`` times,
alternating which goes first, and the best of each is kept; one change (a next hop moved
back and forth) and the resyncs run 5 times each and report the median. Needs root; the
namespaces are named ``clbench-*`` and deleted by name at the end, also on error. Prints
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from clusterlink.api.models import Arp, Device, Fdb, NodeConfigSpec, Route
from clusterlink.dataplane import ConvergeResult, converge

ZERO_MAC = "00:00:00:00:00:00"


def sh(*argv: str, stdin: str | None = None) -> None:
    subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True)


def dotted(prefix: str, index: int) -> str:
    return f"{prefix}.{index >> 8 & 255}.{index & 255}"


def build_spec(count: int) -> NodeConfigSpec:
    """Remote node j: tunnel address 172.30.x.y, MAC 0e:54:..., underlay 10.100.x.y."""
    routes: list[Route] = []
    fdbs: list[Fdb] = []
    arps: list[Arp] = []
    for i in range(count):
        j = i + 2  # 172.30.0.1 is this node, 172.30.0.0 the network
        tunnel = dotted("172.30", j)
        mac = f"0e:54:00:{j >> 16 & 255:02x}:{j >> 8 & 255:02x}:{j & 255:02x}"
        underlay = dotted("10.100", j)
        routes.append(Route(cidr=f"{dotted('10', i)}.0/24", gw=tunnel, dev="vx-bridge"))
        fdbs.append(Fdb(ip=underlay, mac=ZERO_MAC, dev="vx-bridge"))
        fdbs.append(Fdb(ip=underlay, mac=mac, dev="vx-bridge"))
        arps.append(Arp(ip=tunnel, mac=mac, dev="vx-bridge"))
    device = Device(
        name="vx-bridge",
        addr="172.30.0.1/16",
        mac="0e:54:00:00:00:01",
        bind_dev="eth0",
        id=54,
        port=4876,
    )
    return NodeConfigSpec(
        devices=(device,), routes=tuple(routes), fdbs=tuple(fdbs), arps=tuple(arps)
    )


def make_namespace(name: str, created: list[str]) -> None:
    sh("ip", "netns", "add", name)
    created.append(name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    sh("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    sh("ip", "-n", name, "addr", "add", "192.168.200.1/24", "dev", "eth0")
    sh("ip", "-n", name, "link", "set", "eth0", "up")
    sh("ip", "-n", name, "link", "set", "eth0p", "up")


def baseline_apply(name: str, spec: NodeConfigSpec) -> float:
    """The same device and entries through iproute2 batches, in the agent's order."""
    device = spec.devices[0]
    head = [
        f"link add vx-bridge up address {device.mac} mtu 1450 type vxlan id 54 dstport 4876"
        " local 192.168.200.1 dev eth0 nolearning",
        f"addr replace {device.addr} dev vx-bridge",
    ] + [f"neigh replace {a.ip} lladdr {a.mac} dev {a.dev} nud permanent" for a in spec.arps]
    fdb = [f"fdb append {f.mac} dev {f.dev} dst {f.ip} self permanent" for f in spec.fdbs]
    tail = [f"route replace {r.cidr} via {r.gw} dev {r.dev} onlink table 200" for r in spec.routes]
    tail.append("rule add from all lookup 200 pref 200")
    start = time.perf_counter()
    sh("ip", "-n", name, "-batch", "-", stdin="\n".join(head) + "\n")
    sh("bridge", "-n", name, "-batch", "-", stdin="\n".join(fdb) + "\n")
    sh("ip", "-n", name, "-batch", "-", stdin="\n".join(tail) + "\n")
    return time.perf_counter() - start


def count_lines(*argv: str) -> int:
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


@dataclass(frozen=True)
class FullApply:
    agent_seconds: float
    baseline_seconds: float
    namespace: str
    result: ConvergeResult


def full_apply(spec: NodeConfigSpec, prefix: str, first: str, created: list[str]) -> FullApply:
    """The agent and the batch baseline, each into its own fresh namespace, ``first`` first."""
    ours, base = f"{prefix}-agent", f"{prefix}-batch"
    for name in (base, ours):
        make_namespace(name, created)
    timings: dict[str, float] = {}
    result: ConvergeResult | None = None
    for which in (first, "batch" if first == "agent" else "agent"):
        start = time.perf_counter()
        if which == "batch":
            baseline_apply(base, spec)
        else:
            result = converge(spec, ours)
        timings[which] = time.perf_counter() - start
    assert result is not None
    if result.failed:
        raise SystemExit(f"full apply failed: {result.failed[:3]}")
    for argv in (("route", "show", "table", "200"), ("neigh", "show", "dev", "vx-bridge")):
        if count_lines("ip", "-n", ours, *argv) != count_lines("ip", "-n", base, *argv):
            raise SystemExit(f"agent and baseline differ in: ip {' '.join(argv)}")
    return FullApply(timings["agent"], timings["batch"], ours, result)


def timed(run: Callable[[], ConvergeResult], changes: int) -> tuple[float, ConvergeResult]:
    start = time.perf_counter()
    result = run()
    elapsed_ms = (time.perf_counter() - start) * 1000
    if result.failed or len(result.applied) != changes:
        raise SystemExit(f"expected {changes} change(s): {result.applied[:3]} {result.failed[:3]}")
    return elapsed_ms, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="full applies (best is kept)")
    args = parser.parse_args()
    spec = build_spec(args.routes)
    suffix = secrets.token_hex(3)
    created: list[str] = []
    try:
        runs: list[FullApply] = []
        # Namespaces are only deleted at the end: the kernel tears a deleted namespace's
        # 40,000 entries down in the background, which would load the later measurements.
        for index in range(args.repeat):
            first = "agent" if index % 2 else "batch"
            runs.append(full_apply(spec, f"clbench-{suffix}-{index}", first, created))
        ours, result = runs[-1].namespace, runs[-1].result

        middle = len(spec.routes) // 2
        routes = list(spec.routes)
        routes[middle] = spec.routes[middle].model_copy(update={"gw": spec.routes[0].gw})
        variants = (spec.model_copy(update={"routes": tuple(routes)}), spec)
        one_change: list[float] = []
        for step in range(5):  # move one route's next hop back and forth
            desired = variants[step % 2]
            elapsed, result = timed(partial(converge, desired, ours, baseline=result.baseline), 1)
            one_change.append(elapsed)

        resync: list[float] = []
        cold: list[float] = []
        for _ in range(5):
            assert result.baseline is not None
            again = result.baseline.for_resync()
            elapsed, result = timed(partial(converge, desired, ours, baseline=again), 0)
            resync.append(elapsed)
            cold.append(timed(partial(converge, desired, ours), 0)[0])
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], check=False)
    best = min(runs, key=lambda run: run.agent_seconds)
    best_baseline = min(run.baseline_seconds for run in runs)
    print(
        json.dumps(
            {
                "case": f"agent-apply-{args.routes // 1000}k",
                "full_apply_seconds": round(best.agent_seconds, 3),
                "baseline_seconds": round(best_baseline, 3),
                "ratio": round(best.agent_seconds / best_baseline, 2),
                "one_change_ms": round(statistics.median(one_change), 1),
                "resync_ms": round(statistics.median(resync), 1),
                "resync_cold_ms": round(statistics.median(cold), 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
