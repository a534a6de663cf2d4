"""Agent data plane benchmark (BENCHMARKS.md section 2).

    python benchmarks/agent_apply.py [--routes 10000]

A NodeConfig with N routes, 2N FDB entries and N neighbours on ``vx-bridge`` (a P2P node
facing N remote nodes) is converged into a fresh network namespace; in the same run the
same entries go through ``ip -batch`` / ``bridge -batch`` into another fresh namespace (the
baseline: no reading, no diffing, no checking). Then one route changes its next hop
(converged with the baseline of the full apply, as the agent does on a NodeConfig update),
then a resync with nothing to do: every table dumped and diffed, as the agent's periodic
resync does (``resync_ms``, with the spec's printed form kept from the previous pass like
the agent keeps it; ``resync_cold_ms``, a first pass of a fresh process). Needs root; the namespaces
are named ``clbench-*`` and deleted by name at the end, also on error. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time

from clusterlink.api.models import Arp, Device, Fdb, NodeConfigSpec, Route
from clusterlink.dataplane import converge

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


def make_namespace(name: str) -> None:
    sh("ip", "netns", "add", name)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=10_000)
    args = parser.parse_args()
    spec = build_spec(args.routes)
    suffix = secrets.token_hex(3)
    ours, base = f"clbench-{suffix}-agent", f"clbench-{suffix}-batch"
    created: list[str] = []
    try:
        for name in (base, ours):
            make_namespace(name)
            created.append(name)
        baseline_seconds = baseline_apply(base, spec)

        start = time.perf_counter()
        full = converge(spec, ours)
        full_seconds = time.perf_counter() - start
        if full.failed:
            raise SystemExit(f"full apply failed: {full.failed[:3]}")
        for argv in (("route", "show", "table", "200"), ("neigh", "show", "dev", "vx-bridge")):
            if count_lines("ip", "-n", ours, *argv) != count_lines("ip", "-n", base, *argv):
                raise SystemExit(f"agent and baseline differ in: ip {' '.join(argv)}")

        moved = spec.routes[len(spec.routes) // 2].model_copy(update={"gw": spec.routes[0].gw})
        routes = list(spec.routes)
        routes[len(routes) // 2] = moved
        changed = spec.model_copy(update={"routes": tuple(routes)})
        start = time.perf_counter()
        one = converge(changed, ours, baseline=full.baseline)
        one_change_ms = (time.perf_counter() - start) * 1000
        if one.failed or len(one.applied) != 1:
            raise SystemExit(f"one change: applied {one.applied}, failed {one.failed}")

        assert one.baseline is not None
        start = time.perf_counter()
        resync = converge(changed, ours, baseline=one.baseline.for_resync())
        resync_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        cold = converge(changed, ours)
        cold_ms = (time.perf_counter() - start) * 1000
        for name, result in (("resync", resync), ("cold resync", cold)):
            if result.applied or result.failed:
                raise SystemExit(
                    f"{name} was not a no-op: {result.applied[:3]} {result.failed[:3]}"
                )
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], check=False)
    print(
        json.dumps(
            {
                "case": f"agent-apply-{args.routes // 1000}k",
                "full_apply_seconds": round(full_seconds, 3),
                "baseline_seconds": round(baseline_seconds, 3),
                "ratio": round(full_seconds / baseline_seconds, 2),
                "one_change_ms": round(one_change_ms, 1),
                "resync_ms": round(resync_ms, 1),
                "resync_cold_ms": round(cold_ms, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
