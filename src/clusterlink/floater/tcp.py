"""TCP connect and HTTP GET to a peer floater: the probes that need no privilege.

Both reach the peer floater's own port, so they test what applications use (a TCP
handshake across the tunnel, and a request/response) rather than ICMP alone. They are
coroutines: a plan's hundreds of connections share one event loop instead of a thread
each, which keeps a busy node's floater from starving its own probes.
"""

from __future__ import annotations

import asyncio
import errno
import time

from clusterlink.floater.outcome import ProbeOutcome

HEALTH_PATH = "/healthz"
MAX_HEADER = 16 * 1024


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {getattr(exc, 'strerror', None) or exc}"
    return str(exc) or type(exc).__name__


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
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
        except (OSError, TimeoutError) as exc:
            error = _describe(exc)
            continue
        rtts.append((time.monotonic() - started) * 1000)
        writer.close()
    return ProbeOutcome.from_rtts(target, address, "tcp", sent=count, rtts=rtts, error=error)


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> int:
    """One ``GET /healthz`` on an open connection; the status code."""
    writer.write(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1"))
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *headers = head.split("\r\n")
    length = 0
    for header in headers:
        name, _, value = header.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def http_get(
    target: str, address: str, port: int, *, count: int, interval: float, timeout: float
) -> ProbeOutcome:
    """``count`` requests of the peer's ``/healthz`` on one kept-alive connection (opened
    again after an error); only a 200 counts as a reply."""
    rtts: list[float] = []
    error = ""
    host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        for attempt in range(count):
            if attempt:
                await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                if streams is None:
                    streams = await asyncio.wait_for(
                        asyncio.open_connection(address, port, limit=MAX_HEADER), timeout
                    )
                status = await asyncio.wait_for(_request(*streams, host), timeout)
            except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError) as exc:  # fmt: skip
                error = _describe(exc)
                if streams is not None:
                    streams[1].close()
                streams = None
                continue
            if status == 200:
                rtts.append((time.monotonic() - started) * 1000)
            else:
                error = f"HTTP {status} from {HEALTH_PATH}"
    finally:
        if streams is not None:
            streams[1].close()
    return ProbeOutcome.from_rtts(target, address, "http", sent=count, rtts=rtts, error=error)
