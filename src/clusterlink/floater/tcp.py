"""TCP connect and HTTP GET to a peer floater: the probes that need no privilege.

Both reach the peer floater's own port, so they test what applications use (a TCP
handshake across the tunnel, and a request/response) rather than ICMP alone. They are
coroutines on bare non-blocking sockets that wait with :func:`~.waits.ready`: a plan's
hundreds of connections share one event loop, and no stream reader, writer, protocol or
task is built for a connection that lives one round trip, which keeps a busy node's
floater from starving its own probes.

When a target is probed with both, :func:`tcp_and_http` sends the HTTP requests over the
TCP probe's last connection instead of opening another one: the handshake is what the TCP
probe measures and the request/response what the HTTP probe measures, and a second
connection to the same port would only repeat the first, costing both floaters and the
tunnel a handshake and a teardown per pair. For the same reason a connection saves the
handshake's final ACK (``TCP_DEFER_ACCEPT`` on a connecting socket delays it): the
request carries it, and a connection reset right away never needs it. The handshake,
SYN out and SYN-ACK back, is measured as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import struct
import time

from clusterlink.floater.outcome import ProbeOutcome
from clusterlink.floater.waits import ready

HEALTH_PATH = "/healthz"
MAX_HEADER = 16 * 1024
_HEAD_END = b"\r\n\r\n"
_READ = 4096
_LINGER_RESET = struct.pack("ii", 1, 0)
_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK


class HttpError(ValueError):
    """The peer's answer is not the HTTP response expected."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {getattr(exc, 'strerror', None) or exc}"
    return str(exc) or type(exc).__name__


async def connect(address: str, port: int, timeout: float) -> socket.socket:
    """A connected non-blocking TCP socket; OSError or TimeoutError otherwise."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    opened = socket.socket(family, _STREAM)
    try:
        with contextlib.suppress(OSError):  # the handshake's last ACK rides on the request
            opened.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
        code = opened.connect_ex((address, port))
        if code == errno.EINPROGRESS:
            deadline = asyncio.get_running_loop().time() + timeout
            await ready(opened, write=True, deadline=deadline)
            code = opened.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))
    except BaseException:
        opened.close()
        raise
    return opened


def reset(connected: socket.socket) -> None:
    """Close with a reset (``SO_LINGER`` 0): the probe is over once the handshake or the
    last response is in, so the FIN exchange (three more packets through the tunnel) and a
    TIME_WAIT socket on every probe would be pure cost on both ends."""
    with contextlib.suppress(OSError):
        connected.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    connected.close()


async def _handshakes(
    address: str, port: int, *, count: int, interval: float, timeout: float, keep: bool
) -> tuple[list[float], str, socket.socket | None]:
    """``count`` connections: their handshake times, the last error, and with ``keep`` the
    last connection that succeeded, still open (the others are reset)."""
    rtts: list[float] = []
    error = ""
    kept: socket.socket | None = None
    try:
        for attempt in range(count):
            if attempt:
                await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                connected = await connect(address, port, timeout)
            except (OSError, TimeoutError) as exc:
                error = describe(exc)
                continue
            rtts.append((time.monotonic() - started) * 1000)
            if not keep:
                reset(connected)
                continue
            if kept is not None:
                reset(kept)
            kept = connected
    except BaseException:
        if kept is not None:
            reset(kept)
        raise
    return rtts, error, kept


async def tcp_connect(
    target: str, address: str, port: int, *, count: int, interval: float, timeout: float
) -> ProbeOutcome:
    """``count`` connections; the RTT is the handshake time."""
    rtts, error, _ = await _handshakes(
        address, port, count=count, interval=interval, timeout=timeout, keep=False
    )
    return ProbeOutcome.from_rtts(target, address, "tcp", sent=count, rtts=rtts, error=error)


def parse_head(head: bytes) -> tuple[int, int]:
    """(status code, Content-Length) of a response head; :class:`HttpError` if malformed."""
    status_line, *headers = head.decode("latin-1").split("\r\n")
    words = status_line.split()
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise HttpError(f"not an HTTP response: {status_line[:80]!r}")
    length = 0
    for header in headers:
        name, _, value = header.partition(":")
        if name.strip().lower() == "content-length":
            if not value.strip().isdigit():
                raise HttpError(f"bad Content-Length {value.strip()[:20]!r}")
            length = int(value.strip())
    return int(words[1]), length


async def _receive(connected: socket.socket, buffer: bytearray, deadline: float) -> None:
    while True:
        await ready(connected, write=False, deadline=deadline)
        try:
            data = connected.recv(_READ)
        except (BlockingIOError, InterruptedError):
            continue
        if not data:
            raise HttpError("connection closed by the peer")
        buffer += data
        return


async def _send(connected: socket.socket, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[connected.send(view) :]
        except (BlockingIOError, InterruptedError):
            await ready(connected, write=True, deadline=deadline)


async def _request(
    connected: socket.socket, request: bytes, buffer: bytearray, deadline: float
) -> int:
    """One request on an open connection; its status code. The response is consumed from
    ``buffer`` (kept between requests of one connection)."""
    await _send(connected, request, deadline)
    while (end := buffer.find(_HEAD_END)) < 0:
        if len(buffer) > MAX_HEADER:
            raise HttpError(f"response head longer than {MAX_HEADER} bytes")
        await _receive(connected, buffer, deadline)
    status, length = parse_head(bytes(buffer[:end]))
    whole = end + len(_HEAD_END) + length
    while len(buffer) < whole:
        await _receive(connected, buffer, deadline)
    del buffer[:whole]
    return status


def _get(address: str, port: int) -> bytes:
    host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1")


async def http_get(
    target: str,
    address: str,
    port: int,
    *,
    count: int,
    interval: float,
    timeout: float,
    connected: socket.socket | None = None,
) -> ProbeOutcome:
    """``count`` requests of the peer's ``/healthz`` on one kept-alive connection (opened
    again after an error; ``connected``, when given, is used first and closed at the end);
    only a 200 counts as a reply."""
    rtts: list[float] = []
    error = ""
    request = _get(address, port)
    buffer = bytearray()
    loop = asyncio.get_running_loop()
    try:
        for attempt in range(count):
            if attempt:
                await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                if connected is None:
                    connected = await connect(address, port, timeout)
                    buffer.clear()
                status = await _request(connected, request, buffer, loop.time() + timeout)
            except (OSError, TimeoutError, HttpError) as exc:
                error = describe(exc)
                if connected is not None:
                    connected.close()
                connected = None
                continue
            if status == 200:
                rtts.append((time.monotonic() - started) * 1000)
            else:
                error = f"HTTP {status} from {HEALTH_PATH}"
    finally:
        if connected is not None:
            reset(connected)
    return ProbeOutcome.from_rtts(target, address, "http", sent=count, rtts=rtts, error=error)


async def tcp_and_http(
    target: str, address: str, port: int, *, count: int, interval: float, timeout: float
) -> tuple[ProbeOutcome, ProbeOutcome]:
    """The TCP probe, then the HTTP probe on the TCP probe's last connection. When no
    connection could be made at all, the HTTP probe fails for the same reason without
    waiting for the same timeouts again."""
    rtts, error, kept = await _handshakes(
        address, port, count=count, interval=interval, timeout=timeout, keep=True
    )
    tcp = ProbeOutcome.from_rtts(target, address, "tcp", sent=count, rtts=rtts, error=error)
    if kept is None:
        http = ProbeOutcome.from_rtts(target, address, "http", sent=count, rtts=(), error=tcp.error)
        return tcp, http
    http = await http_get(
        target, address, port, count=count, interval=interval, timeout=timeout, connected=kept
    )
    return tcp, http
