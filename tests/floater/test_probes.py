"""Probes against a floater on loopback: TCP connect and HTTP need no privilege; ICMP echo
and path MTU need root (raw sockets) or a ping group that allows datagram ICMP sockets."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from clusterlink.floater.icmp import EchoSocket, checksum, echo_request, ping
from clusterlink.floater.plan import parse_plan
from clusterlink.floater.pmtu import path_mtu
from clusterlink.floater.runner import run_plan
from clusterlink.floater.server import FloaterServer
from clusterlink.floater.tcp import http_get, tcp_connect


def _icmp_allowed() -> bool:
    try:
        with EchoSocket("127.0.0.1"):
            return True
    except OSError:
        return False


needs_icmp = pytest.mark.skipif(
    not _icmp_allowed(), reason="ICMP sockets need root or net.ipv4.ping_group_range"
)


@pytest.fixture
def server() -> Iterator[FloaterServer]:
    running = FloaterServer(CollectorRegistry(), lambda: True, 0)
    running.start()
    yield running
    running.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_server_answers_healthz_metrics_and_any_path_like_upstream(
    server: FloaterServer,
) -> None:
    base = f"http://127.0.0.1:{server.port}"

    assert urllib.request.urlopen(f"{base}/healthz").read() == b"ok\n"
    assert urllib.request.urlopen(f"{base}/anything").read() == b"OK"
    assert urllib.request.urlopen(f"{base}/metrics").status == 200


def test_the_server_listens_on_ipv6_too(server: FloaterServer) -> None:
    assert urllib.request.urlopen(f"http://[::1]:{server.port}/healthz").status == 200


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_tcp_connect_to_a_floater_succeeds_with_rtts(server: FloaterServer, address: str) -> None:
    outcome = asyncio.run(
        tcp_connect("t", address, server.port, count=3, interval=0.01, timeout=2.0)
    )

    assert outcome.success
    assert (outcome.sent, outcome.received, outcome.loss) == (3, 3, 0.0)
    assert outcome.rtt_min is not None
    assert outcome.rtt_max is not None
    assert outcome.rtt_min <= (outcome.rtt_avg or 0) <= outcome.rtt_max


def test_tcp_connect_to_a_closed_port_fails_with_the_error() -> None:
    outcome = asyncio.run(
        tcp_connect("t", "127.0.0.1", _closed_port(), count=2, interval=0.01, timeout=1.0)
    )

    assert not outcome.success
    assert outcome.loss == 1.0
    assert outcome.error.startswith("ECONNREFUSED")


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_http_get_of_a_floater_succeeds(server: FloaterServer, address: str) -> None:
    outcome = asyncio.run(http_get("t", address, server.port, count=2, interval=0.01, timeout=2.0))

    assert outcome.success
    assert outcome.received == 2


def test_http_get_of_something_that_is_not_a_floater_fails() -> None:
    outcome = asyncio.run(
        http_get("t", "127.0.0.1", _closed_port(), count=1, interval=0.01, timeout=1.0)
    )

    assert not outcome.success
    assert outcome.error


def test_ipv4_echo_requests_carry_a_valid_checksum() -> None:
    packet = echo_request(4, 0x1234, 7, b"payload")

    assert checksum(packet) == 0


@needs_icmp
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_ping_loopback_gets_every_reply(address: str) -> None:
    outcome = ping("t", address, count=3, interval=0.01, timeout=2.0)

    assert outcome.success
    assert (outcome.sent, outcome.received) == (3, 3)


@needs_icmp
def test_path_mtu_of_loopback_is_the_largest_size_asked_for() -> None:
    outcome = path_mtu("t", "127.0.0.1", largest=1500, timeout=1.0)

    assert outcome.success
    assert outcome.mtu == 1500


def test_a_plan_runs_every_protocol_of_every_target(server: FloaterServer) -> None:
    up = {"id": "up", "address": "127.0.0.1", "port": server.port, "protocols": ["tcp", "http"]}
    down = {"id": "down", "address": "127.0.0.1", "port": _closed_port(), "protocols": ["tcp"]}
    plan = parse_plan({"run": "r1", "floater": "me", "timeout": 1.0, "targets": [up, down]})

    outcome = run_plan(plan)

    found = {(o.target, o.protocol): o.success for o in outcome.outcomes}
    assert found == {("up", "tcp"): True, ("up", "http"): True, ("down", "tcp"): False}
