"""A lab under test: created through the real ``kosmosctl lab`` command, always removed.

Each test gets a lab with a unique name and its own state directory, so tests never see
each other's namespaces; checks that wait (connectivity after a failover, a ready lab)
poll with a bound and report what was still failing when the bound ran out.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clusterlink.lab.addressing import LabPlan, LabSpec, PodPlan, address_from, plan_lab
from clusterlink.lab.report import matrix_pairs, ping_ok
from clusterlink.lab.state import LabState, load_state

KOSMOSCTL = (sys.executable, "-c", "from clusterlink.cli.kosmosctl import main; main()")
UP_TIMEOUT = 180
HTTP_PORT = 8080


def unique_lab_name() -> str:
    return f"t{secrets.token_hex(3)}"


def kosmosctl(
    *args: str, state_dir: Path, timeout: float = UP_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLUSTERLINK_LAB_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [*KOSMOSCTL, "lab", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class RunningLab:
    spec: LabSpec
    state_dir: Path

    @property
    def plan(self) -> LabPlan:
        return plan_lab(self.spec)

    @property
    def state(self) -> LabState:
        return load_state(self.state_dir, self.spec.name)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``kosmosctl lab COMMAND --name <this lab> ARGS...``."""
        command, *rest = args
        return kosmosctl(command, "--name", self.spec.name, *rest, state_dir=self.state_dir)

    def gateway_of(self, cluster: str) -> str:
        """The gateway node (``cluster/node``) that ``lab status`` reports, or ""."""
        status = json.loads(self.cli("status", "-o", "json").stdout)
        return str(next(c["gateway"] for c in status["clusters"] if c["name"] == cluster))

    def pod(self, path: str) -> PodPlan:
        cluster, node, pod = path.split("/")
        return next(p for p in self.plan.node(cluster, node).pods if p.name == pod)

    def address_of(self, source: str, destination: str, family: int = 4) -> str:
        plan, src, dst = self.plan, self.pod(source), self.pod(destination)
        address = address_from(
            plan.cluster(src.cluster), plan.cluster(dst.cluster), dst, 4 if family == 4 else 6
        )
        assert address is not None, f"{destination} is not reachable from {source} by design"
        return address


def unreachable_pairs(pairs: Sequence[tuple[PodPlan, str]], *, within: float = 20.0) -> list[str]:
    """The (source pod, address) pairs still without a ping reply after ``within`` seconds."""
    return _still_failing(pairs, lambda pod, address: ping_ok(pod.namespace, address, 2), within)


def unanswered_http(pairs: Sequence[tuple[PodPlan, str]], *, within: float = 20.0) -> list[str]:
    """The (client pod, server address) pairs whose HTTP GET still fails after ``within``."""
    return _still_failing(pairs, http_get_ok, within)


def _still_failing(
    pairs: Sequence[tuple[PodPlan, str]], probe: Callable[[PodPlan, str], bool], within: float
) -> list[str]:
    remaining = list(pairs)
    deadline = time.monotonic() + within
    while remaining:
        remaining = [(pod, address) for pod, address in remaining if not probe(pod, address)]
        if not remaining or time.monotonic() >= deadline:
            break
    return [f"{pod.path} -> {address}" for pod, address in remaining]


def cross_cluster_pairs(lab: RunningLab, family: int | None = None) -> list[tuple[PodPlan, str]]:
    return [
        (source, address)
        for source, _, address, pair_family in matrix_pairs(lab.plan)
        if family is None or pair_family == family
    ]


@contextmanager
def http_server(pod: PodPlan, port: int = HTTP_PORT) -> Iterator[None]:
    """A Python HTTP server in ``pod``'s namespace (both families) for the block."""
    argv = ["ip", "netns", "exec", pod.namespace, sys.executable, "-m", "http.server"]
    server = subprocess.Popen(
        [*argv, str(port), "--bind", "::"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def http_get_ok(source: PodPlan, address: str, port: int = HTTP_PORT) -> bool:
    """An HTTP GET from ``source``'s namespace to ``address`` succeeds."""
    host = f"[{address}]" if ":" in address else address
    fetch = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)"
    argv = ["ip", "netns", "exec", source.namespace, sys.executable, "-c", fetch]
    done = subprocess.run([*argv, f"http://{host}:{port}/"], capture_output=True, check=False)
    return done.returncode == 0


def eventually(check: Callable[[], bool], *, within: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True
