"""A plan with unreachable targets, in a network namespace of its own (root): the addresses
sit behind a veth pair whose far end drops every frame (sent to a MAC nobody has, through a
permanent neighbour entry), so nothing answers and nothing is refused. Each unreachable
probe must fail with its error within its timeout, while the reachable ones in the same
plan still succeed; no host route decides the outcome."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tests.namespaces import namespace_marks

pytestmark = namespace_marks(["ip", "unshare"])

SETUP = """
ip link set lo up
ip link add drop0 type veth peer name drop1
ip addr add 10.99.0.1/24 dev drop0
ip -6 addr add fd99::1/64 dev drop0 nodad
ip link set drop0 up
ip link set drop1 up
ip neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev drop0 nud permanent
ip -6 neigh add fd99::2 lladdr 02:00:00:00:00:02 dev drop0 nud permanent
"""

PLAN = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from prometheus_client import CollectorRegistry
    from clusterlink.floater.icmp import EchoSocket
    from clusterlink.floater.plan import parse_plan
    from clusterlink.floater.runner import run_plan
    from clusterlink.floater.server import FloaterServer

    subprocess.run(["sh", "-ec", sys.argv[1]], check=True)
    server = FloaterServer(CollectorRegistry(), lambda: True, 0)
    server.start()
    every = ["ping", "tcp", "http"]
    targets = [
        {"id": "up4", "address": "127.0.0.1", "port": server.port, "protocols": every},
        {"id": "up6", "address": "::1", "port": server.port, "protocols": every},
        {"id": "down4", "address": "10.99.0.2", "port": 8889, "protocols": every},
        {"id": "down6", "address": "fd99::2", "port": 8889, "protocols": every},
    ]
    raw = EchoSocket("127.0.0.1")
    raw.socket.close()
    plan = parse_plan(
        {"run": "r", "floater": "f", "count": 2, "interval": 0.05, "timeout": 0.5,
         "targets": targets}
    )
    started = time.monotonic()
    outcome = run_plan(plan)
    seconds = time.monotonic() - started
    print(json.dumps({"seconds": seconds, "raw": raw.raw, **outcome.to_document()}))
    server.stop()
    """
)


# Raw ICMP sockets (the default range lets no group open datagram ones), or datagram ICMP
# sockets, as the pod-network floater uses them, once every group may.
ICMP_SOCKETS = {
    "raw": "",
    "datagram": "sysctl -qw net.ipv4.ping_group_range='0 2147483647'\n",
}


def _run_in_new_namespace(sockets: str) -> dict[str, Any]:
    setup = SETUP + ICMP_SOCKETS[sockets]
    done = subprocess.run(
        ["unshare", "--net", "--", sys.executable, "-c", PLAN, setup],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("sockets", sorted(ICMP_SOCKETS))
def test_unreachable_targets_fail_with_an_error_and_reachable_ones_succeed(sockets: str) -> None:
    result = _run_in_new_namespace(sockets)

    assert result["raw"] == (sockets == "raw")
    found = {(o["target"], o["protocol"]): o for o in result["outcomes"]}
    assert len(found) == 12
    for (target, _), outcome in found.items():
        if target.startswith("up"):
            assert outcome["success"], outcome
            assert outcome["received"] == 2
        else:
            assert not outcome["success"], outcome
            assert (outcome["received"], outcome["loss"]) == (0, 1.0)
            assert outcome["error"], outcome
            assert outcome["rttAvg"] is None
    assert found[("down4", "tcp")]["error"] == "timed out"
    # probes run side by side: a timeout each for the two attempts, not one per probe
    assert result["seconds"] < 3.0
