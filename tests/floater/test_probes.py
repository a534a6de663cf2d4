"""Probes against a floater on loopback: TCP connect and HTTP need no privilege; ICMP echo
and path MTU need root (raw sockets) or a ping group that allows datagram ICMP sockets."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from clusterlink.floater import runner
from clusterlink.floater import server as server_module
from clusterlink.floater.icmp import EchoChannels, EchoSocket, checksum, echo_request, ping
from clusterlink.floater.outcome import ProbeOutcome
from clusterlink.floater.plan import parse_plan
from clusterlink.floater.pmtu import path_mtu
from clusterlink.floater.runner import bounded, run_plan
from clusterlink.floater.server import FloaterServer
from clusterlink.floater.tcp import http_get, tcp_and_http, tcp_connect


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


async def _ping(address: str, *, count: int = 3, timeout: float = 2.0) -> ProbeOutcome:
    channels = EchoChannels(asyncio.get_running_loop())
    try:
        return await ping(channels, "t", address, count=count, interval=0.01, timeout=timeout)
    finally:
        channels.close()


@needs_icmp
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_ping_loopback_gets_every_reply(address: str) -> None:
    outcome = asyncio.run(_ping(address))

    assert outcome.success
    assert (outcome.sent, outcome.received, outcome.loss) == (3, 3, 0.0)
    assert outcome.rtt_min is not None
    assert outcome.rtt_max is not None
    assert 0 <= outcome.rtt_min <= (outcome.rtt_avg or 0) <= outcome.rtt_max


@needs_icmp
def test_many_pings_share_one_socket_and_each_gets_its_own_replies() -> None:
    async def both_families_at_once() -> list[ProbeOutcome]:
        channels = EchoChannels(asyncio.get_running_loop())
        try:
            return await asyncio.gather(
                *(
                    ping(channels, str(i), address, count=3, interval=0.01, timeout=2.0)
                    for i in range(20)
                    for address in ("127.0.0.1", "::1")
                )
            )
        finally:
            channels.close()

    outcomes = asyncio.run(both_families_at_once())

    assert len(outcomes) == 40
    assert {(o.address, o.received, o.error) for o in outcomes} == {
        ("127.0.0.1", 3, ""),
        ("::1", 3, ""),
    }


@needs_icmp
def test_path_mtu_of_loopback_is_the_largest_size_asked_for() -> None:
    outcome = asyncio.run(path_mtu("t", "127.0.0.1", largest=1500, timeout=1.0))

    assert outcome.success
    assert outcome.mtu == 1500


def test_a_plan_runs_every_protocol_of_every_target(server: FloaterServer) -> None:
    up = {"id": "up", "address": "127.0.0.1", "port": server.port, "protocols": ["tcp", "http"]}
    down = {"id": "down", "address": "127.0.0.1", "port": _closed_port(), "protocols": ["tcp"]}
    plan = parse_plan({"run": "r1", "floater": "me", "timeout": 1.0, "targets": [up, down]})

    outcome = run_plan(plan)

    found = {(o.target, o.protocol): o.success for o in outcome.outcomes}
    assert found == {("up", "tcp"): True, ("up", "http"): True, ("down", "tcp"): False}


def _exchange(port: int, data: bytes, chunks: int = 1) -> bytes:
    """Send ``data`` (in ``chunks`` pieces) on one connection; everything read until the
    server closes it or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as connection:
        step = -(-len(data) // chunks)
        for start in range(0, len(data), step):
            connection.sendall(data[start : start + step])
            time.sleep(0.02)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
        return received


def test_the_server_answers_requests_split_across_packets(server: FloaterServer) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    response = _exchange(server.port, request, chunks=5)

    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\nok\n")


def test_the_server_answers_pipelined_requests_in_order_then_closes(
    server: FloaterServer,
) -> None:
    requests = b"GET /healthz HTTP/1.1\r\n\r\nGET /other HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n"

    response = _exchange(server.port, requests)

    assert response.count(b"HTTP/1.1 200 OK") == 3
    assert response.index(b"ok\n") < response.index(b"\r\n\r\nOK")
    assert response.endswith(b"Connection: close\r\n\r\nOK")


def test_the_server_rejects_a_bad_request_line_and_oversized_heads(
    server: FloaterServer,
) -> None:
    assert _exchange(server.port, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request")
    assert _exchange(server.port, b"GET /" + b"a" * (17 * 1024)) == b""


def test_the_server_survives_connections_closed_right_after_the_handshake(
    server: FloaterServer,
) -> None:
    for _ in range(50):
        socket.create_connection(("127.0.0.1", server.port), timeout=2.0).close()

    assert urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz").status == 200


def test_http_get_of_something_that_does_not_speak_http_fails_with_the_reason() -> None:
    async def not_http() -> ProbeOutcome:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
            await writer.drain()
            writer.close()

        listening = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        async with listening:
            return await http_get("t", "127.0.0.1", port, count=2, interval=0.01, timeout=1.0)

    outcome = asyncio.run(not_http())

    assert not outcome.success
    assert outcome.error.startswith("not an HTTP response")


def test_bounded_never_runs_more_than_the_concurrency_and_keeps_the_order() -> None:
    running: list[int] = []
    most = 0

    async def slow_square(value: int) -> int:
        nonlocal most
        running.append(value)
        most = max(most, len(running))
        await asyncio.sleep(0.001 * (value % 3))
        running.remove(value)
        return value * value

    squares = asyncio.run(bounded(list(range(50)), 4, slow_square))

    assert squares == [value * value for value in range(50)]
    assert most == 4


def test_a_plan_never_has_more_probes_in_flight_than_its_concurrency(
    server: FloaterServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight: list[str] = []
    most = 0
    real = runner.tcp_connect

    async def counted(target: str, *args: Any, **kwargs: Any) -> ProbeOutcome:
        nonlocal most
        in_flight.append(target)
        most = max(most, len(in_flight))
        try:
            return await real(target, *args, **kwargs)
        finally:
            in_flight.remove(target)

    monkeypatch.setattr(runner, "tcp_connect", counted)
    targets = [
        {"id": f"t{i}", "address": "127.0.0.1", "port": server.port, "protocols": ["tcp"]}
        for i in range(12)
    ]
    plan = parse_plan({"run": "r1", "floater": "me", "concurrency": 3, "targets": targets})

    outcome = runner.run_plan(plan)

    assert [o.target for o in outcome.outcomes] == [f"t{i}" for i in range(12)]
    assert all(o.success for o in outcome.outcomes)
    assert most == 3


def test_the_server_closes_a_connection_whose_request_head_does_not_complete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "HEADER_TIMEOUT", 0.2)
    monkeypatch.setattr(server_module, "SWEEP_INTERVAL", 0.05)
    running = FloaterServer(CollectorRegistry(), lambda: True, 0)
    running.start()
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=5.0) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\n")
            started = time.monotonic()

            assert slow.recv(1024) == b""
            assert time.monotonic() - started < 2.0
    finally:
        running.stop()


async def _counting_http_server(requests: list[int]) -> asyncio.Server:
    """An HTTP server answering 200 to every request; ``requests`` gets, per connection that
    was accepted, how many requests it carried."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(0)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                requests[-1] += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.parametrize("count", [1, 3])
def test_the_http_probe_of_a_target_goes_over_the_tcp_probes_last_connection(count: int) -> None:
    requests: list[int] = []

    async def probe() -> tuple[ProbeOutcome, ProbeOutcome]:
        listening = await _counting_http_server(requests)
        port = listening.sockets[0].getsockname()[1]
        async with listening:
            return await tcp_and_http(
                "t", "127.0.0.1", port, count=count, interval=0.01, timeout=2.0
            )

    tcp, http = asyncio.run(probe())

    assert (tcp.protocol, tcp.received, tcp.error) == ("tcp", count, "")
    assert (http.protocol, http.received, http.error) == ("http", count, "")
    assert [n for n in requests if n] == [count]


def test_without_any_tcp_connection_the_http_probe_fails_for_the_same_reason() -> None:
    tcp, http = asyncio.run(
        tcp_and_http("t", "127.0.0.1", _closed_port(), count=2, interval=0.01, timeout=1.0)
    )

    assert not tcp.success
    assert tcp.error.startswith("ECONNREFUSED")
    assert (http.protocol, http.sent, http.received, http.error) == ("http", 2, 0, tcp.error)
