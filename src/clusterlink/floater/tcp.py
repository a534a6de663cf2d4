"""TCP connect and HTTP GET to a peer floater: the probes that need no privilege.

Both reach the peer floater's own port, so they test what applications use (a TCP
handshake across the tunnel, and a request/response) rather than ICMP alone. They are
coroutines on bare non-blocking sockets (``loop.sock_*``): a plan's hundreds of
connections share one event loop, and no stream reader, writer, protocol or task is built
for a connection that lives one round trip, which keeps a busy node's floater from starving
its own probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
import time

from clusterlink.floater.outcome import ProbeOutcome

HEALTH_PATH = "/healthz"
MAX_HEADER = 16 * 1024
_HEAD_END = b"\r\n\r\n"
_READ = 4096
_LINGER_RESET = struct.pack("ii", 1, 0)


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
    opened = socket.socket(family, socket.SOCK_STREAM)
    opened.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(opened, (address, port))
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


async def tcp_connect(
    target: str, address: str, port: int, *, count: int, interval: float, timeout: float
) -> ProbeOutcome:
    """``count`` connections; the RTT is the handshake time."""
    rtts: list[float] = []
    error = ""
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
        reset(connected)
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


async def _receive(connected: socket.socket, buffer: bytearray) -> None:
    data = await asyncio.get_running_loop().sock_recv(connected, _READ)
    if not data:
        raise HttpError("connection closed by the peer")
    buffer += data


async def _request(connected: socket.socket, request: bytes, buffer: bytearray) -> int:
    """One request on an open connection; its status code. The response is consumed from
    ``buffer`` (kept between requests of one connection)."""
    await asyncio.get_running_loop().sock_sendall(connected, request)
    while (end := buffer.find(_HEAD_END)) < 0:
        if len(buffer) > MAX_HEADER:
            raise HttpError(f"response head longer than {MAX_HEADER} bytes")
        await _receive(connected, buffer)
    status, length = parse_head(bytes(buffer[:end]))
    whole = end + len(_HEAD_END) + length
    while len(buffer) < whole:
        await _receive(connected, buffer)
    del buffer[:whole]
    return status


def _get(address: str, port: int) -> bytes:
    host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1")


async def http_get(
    target: str, address: str, port: int, *, count: int, interval: float, timeout: float
) -> ProbeOutcome:
    """``count`` requests of the peer's ``/healthz`` on one kept-alive connection (opened
    again after an error); only a 200 counts as a reply."""
    rtts: list[float] = []
    error = ""
    request = _get(address, port)
    connected: socket.socket | None = None
    buffer = bytearray()
    try:
        for attempt in range(count):
            if attempt:
                await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                if connected is None:
                    connected = await connect(address, port, timeout)
                    buffer.clear()
                async with asyncio.timeout(timeout):
                    status = await _request(connected, request, buffer)
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
