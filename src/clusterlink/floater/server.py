"""What peers probe: the floater's HTTP listener on ``PORT`` (8889, as upstream's).

``/healthz`` answers ``ok``, ``/readyz`` follows readiness, ``/metrics`` is Prometheus, and
every other path answers ``OK`` as upstream's floater does. It listens on both families
(``::`` with dual stack) so TCP and HTTP probes work for IPv4 and IPv6 targets alike.

Every floater of the other clusters probes it at the same moment, so it is one asyncio
loop on its own thread (a coroutine per connection, keep-alive, a large backlog) rather
than a thread per request: a burst of hundreds of connections costs little CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

BACKLOG = 1024
HEADER_TIMEOUT = 3.0  # upstream's ReadHeaderTimeout
MAX_HEADER = 16 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 503: "Service Unavailable"}


def _listening_socket(port: int) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple[str, int] = ("::", port)
    except OSError:  # IPv6 disabled in this namespace
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("0.0.0.0", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


class FloaterServer:
    """Serves on ``port`` (0: any free one) on every address, from a daemon thread."""

    def __init__(
        self, registry: CollectorRegistry, is_ready: Callable[[], bool], port: int
    ) -> None:
        self._registry = registry
        self._is_ready = is_ready
        self._socket = _listening_socket(port)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="floater-server", daemon=True)
        self._started = threading.Event()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._socket.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._socket, limit=MAX_HEADER)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    def _response(self, path: str) -> tuple[int, bytes, str]:
        if path == "/healthz":
            return 200, b"ok\n", "text/plain"
        if path == "/readyz":
            ready = self._is_ready()
            return (200, b"ok\n", "text/plain") if ready else (503, b"not ready\n", "text/plain")
        if path == "/metrics":
            return 200, generate_latest(self._registry), CONTENT_TYPE_LATEST
        return 200, b"OK", "text/plain"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT)
                words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                if len(words) != 3:
                    status, body, kind = 400, b"bad request\n", "text/plain"
                else:
                    status, body, kind = self._response(words[1].split("?", 1)[0])
                keep = len(words) == 3 and words[2] == "HTTP/1.1"
                keep = keep and b"connection: close" not in head.lower()
                header = (
                    f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
                    f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
                )
                writer.write(header.encode("latin-1") + body)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass
        finally:
            writer.close()
