"""The doctor's whole matrix on a lab (BENCHMARKS.md section 5), and where its time goes.

    python benchmarks/doctor.py [--clusters 3] [--nodes 3] [--count 1] [--repeat 3]
                                [--name bdoctor]

Builds a dual-stack P2P lab of 3 clusters x 3 nodes (a floater per node in host network
and one in pod network), waits until every floater registered, runs the doctor once to
warm up (first plans of freshly started processes), then times ``--repeat`` complete
``kosmosctl dr --host-network`` runs (every ordered pair of nodes in different clusters,
pod and host network, IPv4 and IPv6, ping + TCP + HTTP, with the doctor's default
``--count``, which each line reports): find, plan, probe, collect, judge, clean up. The
runs start ``SETTLE`` (1 s) apart, so each finds the floaters idle as a user's run does (a
floater polls its store once more 0.25 s after the previous run's cleanup woke it). Lab
bring-up is never timed, and both sizes are measured the same way. It does the same with
twice the nodes (twice the floaters) and prints one JSON line per case, ``doctor-3x3`` and
``doctor-3x6``; ``seconds`` is the median run, the second line carries ``ratio`` (target
<= 2). Each lab is removed afterwards, also on failure.

Besides the keys the target needs (``case``, ``probes``, ``passed``, ``seconds``,
``ratio``), each line says where the median run's time went (``phases``: finding the
floaters and building the plans, publishing them, waiting for the answers, judging and
cleaning up), how long the slowest floater took to run its plan, as it logged it
(``slowest_plan``), the CPU seconds all floater processes used during a run (median,
``floater_cpu``: probing, serving the peers' probes, the kernel's packet path), and the
machine's load average when the case ended (``load``): the floaters share the CPU with
everything else on the host, so under load the wall time follows ``floater_cpu``.

Doubling the nodes quadruples the pairs, so on this host, where every floater of every
cluster shares the same cores, the CPU work and so the wall time grow about fourfold. On
real clusters each floater has its node's CPU; what grows there is one floater's share:
``busiest_floater_cpu`` is the most user CPU any single floater spent in a run (system
time is left out: the kernel's packet path runs in whichever process a softirq
interrupts), and the second line's ``busiest_floater_ratio`` compares it between sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterlink.cli.doctor import lab_floaters
from clusterlink.doctor.exchange import wait_for_floaters
from clusterlink.doctor.matrix import DEFAULT_COUNT, Matrix, MatrixOptions
from clusterlink.doctor.session import DoctorRequest, DoctorRun, Observers, run_doctor
from clusterlink.lab import lab as lab_ops
from clusterlink.lab.addressing import LabSpec
from clusterlink.store import open_store

STATE_ROOT = Path("/var/run/clusterlink-lab")
NAMESPACE = "kosmos-system"
REGISTRATION_WAIT = 120.0
# Seconds between runs: a floater woken by the previous run's cleanup polls once more a poll
# interval later; after a few intervals it is idle, as a user's run finds it.
SETTLE = 4 * lab_ops.FLOATER_POLL_INTERVAL
PLAN_LINE = re.compile(r"plan (?P<run>[a-z0-9]+): \d+ probe\(s\) in (?P<seconds>[\d.]+) s")


@dataclass
class PhaseClock:
    """When each step of one run happened, from the doctor's own progress callbacks."""

    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.monotonic())

    def observers(self) -> Observers:
        def planned(_: Matrix) -> None:
            self.mark("planned")

        def results(done: int, total: int) -> None:
            self.mark("published")  # the first look for answers follows the last plan
            if done == total:
                self.mark("answered")

        return Observers(planned=planned, results=results)

    def phases(self, ended: float) -> dict[str, float]:
        """Seconds of each phase; a phase whose end was not seen counts as zero."""
        points = [("find_and_plan", "planned"), ("publish", "published"), ("probe", "answered")]
        phases: dict[str, float] = {}
        last = self.started
        for phase, mark in points:
            at = self.marks.get(mark, last)
            phases[phase] = round(at - last, 3)
            last = at
        phases["judge_and_clean_up"] = round(ended - last, 3)
        return phases


@dataclass(frozen=True, slots=True)
class TimedRun:
    run: DoctorRun
    seconds: float
    phases: dict[str, float]
    floater_cpu: float  # CPU seconds (user + system) all floater processes spent meanwhile
    busiest_floater_cpu: float  # the most any one floater spent: its node's share of the run


def floater_cpu(name: str) -> dict[int, tuple[float, float]]:
    """(user, system) CPU seconds each floater process of the lab used so far, by PID."""
    state, _ = lab_ops.open_lab(name, STATE_ROOT)
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[int, tuple[float, float]] = {}
    for record in state.processes:
        if record.role.startswith("floater"):
            try:
                text = Path(f"/proc/{record.pid}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            used[record.pid] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return used


def timed_run(name: str, request: DoctorRequest) -> TimedRun:
    before = floater_cpu(name)
    clock = PhaseClock()
    run = run_doctor(request, clock.observers())
    ended = time.monotonic()
    spent = {
        pid: (user - before.get(pid, (0.0, 0.0))[0], system - before.get(pid, (0.0, 0.0))[1])
        for pid, (user, system) in floater_cpu(name).items()
    }
    total = sum(user + system for user, system in spent.values())
    busiest = max((user for user, _ in spent.values()), default=0.0)
    return TimedRun(run, ended - clock.started, clock.phases(ended), total, busiest)


def slowest_plan(name: str, run: str) -> float | None:
    """The longest plan of ``run`` that any floater of the lab logged."""
    state, _ = lab_ops.open_lab(name, STATE_ROOT)
    found: list[float] = []
    for record in state.processes:
        if record.role.startswith("floater") and record.log:
            text = Path(record.log).read_text(errors="replace")
            for match in PLAN_LINE.finditer(text):
                if match["run"] == run:
                    found.append(float(match["seconds"]))
    return max(found, default=None)


def _request(name: str, count: int) -> DoctorRequest:
    lab = lab_floaters(name, STATE_ROOT)
    opened = {url: open_store(url) for url in lab.member_stores}
    try:
        found = wait_for_floaters(opened, NAMESPACE, lab.expected, REGISTRATION_WAIT)
    finally:
        for store in opened.values():
            store.close()
    if len(found) < len(lab.expected):
        raise RuntimeError(f"only {len(found)} of {len(lab.expected)} floaters registered")
    return DoctorRequest(
        lab.member_stores,
        lab.control_store,
        NAMESPACE,
        MatrixOptions(networks=("pod", "host"), count=count),
        wait=0.0,
        expected=lab.expected,
        not_running=lab.down,
    )


def measure(name: str, clusters: int, nodes: int, count: int, repeat: int) -> dict[str, Any]:
    spec = LabSpec(name=name, clusters=clusters, nodes=nodes, mode="p2p", ip_family="all")
    lab_ops.up(spec, STATE_ROOT)
    try:
        request = _request(name, count)
        run_doctor(request)  # warm-up, not timed
        runs = []
        for _ in range(repeat):
            time.sleep(SETTLE)  # floaters idle, as a user's run finds them
            runs.append(timed_run(name, request))
        median = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
        plan = slowest_plan(name, median.run.matrix.run)
    finally:
        lab_ops.down(name, STATE_ROOT)
    return {
        "case": f"doctor-{clusters}x{nodes}",
        "count": count,
        "floaters": median.run.summary.floaters,
        "probes": median.run.summary.probes,
        "passed": min(r.run.summary.passed for r in runs),
        "seconds": round(statistics.median(r.seconds for r in runs), 3),
        "runs": [round(r.seconds, 3) for r in runs],
        "phases": median.phases,
        "slowest_plan": plan,
        "floater_cpu": round(statistics.median(r.floater_cpu for r in runs), 2),
        "busiest_floater_cpu": round(statistics.median(r.busiest_floater_cpu for r in runs), 3),
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument(
        "--count",
        type=int,
        default=DEFAULT_COUNT,
        help="Attempts per probe (the doctor's default).",
    )
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per case (median).")
    parser.add_argument("--name", default="bdoctor")
    options = parser.parse_args()
    first = measure(options.name, options.clusters, options.nodes, options.count, options.repeat)
    print(json.dumps(first), flush=True)
    second = measure(
        options.name, options.clusters, options.nodes * 2, options.count, options.repeat
    )
    second["ratio"] = round(second["seconds"] / first["seconds"], 2)
    if first["busiest_floater_cpu"]:
        second["busiest_floater_ratio"] = round(
            second["busiest_floater_cpu"] / first["busiest_floater_cpu"], 2
        )
    print(json.dumps(second), flush=True)


if __name__ == "__main__":
    main()
