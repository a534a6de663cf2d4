"""What peers probe: the floater's HTTP listener on ``PORT`` (8889, as upstream's).

``/healthz`` answers ``ok``, ``/readyz`` follows readiness, ``/metrics`` is Prometheus, and
every other path answers ``OK`` as upstream's floater does. It listens on both families
(``::`` with dual stack) so TCP and HTTP probes work for IPv4 and IPv6 targets alike.

Every floater of the other clusters probes it at the same moment, and many connections are
TCP probes that close right after the handshake. So it is one thread around one
:mod:`selectors` loop (keep-alive, a large backlog, pipelining) that accepts, reads and
answers with plain non-blocking socket calls: no transport, future or task is built per
connection, which made an asyncio server cost about three times the CPU for such bursts,
CPU that the node's own probes were waiting for. The listener defers accepting a
connection until its first request arrives (``TCP_DEFER_ACCEPT``; the kernel still
completes the handshake at once, so TCP probes measure the same), which answers a
request with one wake-up instead of two and leaves a TCP probe's bare handshake to the
kernel alone.
"""

from __future__ import annotations

import contextlib
import functools
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

BACKLOG = 1024
HEADER_TIMEOUT = 3.0  # upstream's ReadHeaderTimeout; also how long an idle keep-alive lasts
DEFER_ACCEPT = 3  # seconds a handshake waits for the request before it is accepted anyway
MAX_HEADER = 16 * 1024
SWEEP_INTERVAL = 0.5  # how often connections past their deadline are looked for
_READ = 65536
_HEAD_END = b"\r\n\r\n"
_REASONS = {200: "OK", 400: "Bad Request", 503: "Service Unavailable"}

Responder = Callable[[str], tuple[int, bytes, str]]  # path -> (status, body, content type)


def _listening_socket(port: int) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple[str, int] = ("::", port)
    except OSError:  # IPv6 disabled in this namespace
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("0.0.0.0", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with contextlib.suppress(OSError):  # accepted once the request arrives, see the module
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT)
    sock.bind(address)
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def answer(head: bytes, respond: Responder) -> tuple[bytes, bool]:
    """The response to one request head, and whether the connection stays open."""
    words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(words) != 3:
        status, body, kind = 400, b"bad request\n", "text/plain"
    else:
        status, body, kind = respond(words[1].split("?", 1)[0])
    keep = len(words) == 3 and words[2] == "HTTP/1.1"
    keep = keep and b"connection: close" not in head.lower()
    return _response_head(status, kind, len(body), keep) + body, keep


@functools.lru_cache(maxsize=64)
def _response_head(status: int, kind: str, length: int, keep: bool) -> bytes:
    """A response head; the few distinct ones (every probe gets the same) are kept."""
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
        f"Content-Type: {kind}\r\nContent-Length: {length}\r\n"
        f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
    ).encode("latin-1")


@dataclass
class _Client:
    """One connection: what it sent that is not answered yet, what it was not sent yet,
    and when it is closed unless a complete request head arrives."""

    socket: socket.socket
    deadline: float
    received: bytearray = field(default_factory=bytearray)
    unsent: bytes = b""
    writing: bool = False  # registered for writability, because ``unsent`` did not fit
    closing: bool = False  # close once ``unsent`` is out


class FloaterServer:
    """Serves on ``port`` (0: any free one) on every address, from a daemon thread."""

    def __init__(
        self, registry: CollectorRegistry, is_ready: Callable[[], bool], port: int
    ) -> None:
        self._registry = registry
        self._is_ready = is_ready
        self._socket = _listening_socket(port)
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._clients: dict[int, _Client] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="floater-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        self._selector.register(self._socket, selectors.EVENT_READ)
        self._selector.register(self._wake_reader, selectors.EVENT_READ)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        if self._thread.is_alive():
            self._thread.join(10)
        for client in list(self._clients.values()):
            client.socket.close()
        self._clients.clear()
        self._selector.close()
        for opened in (self._socket, self._wake_reader, self._wake_writer):
            opened.close()

    def _response(self, path: str) -> tuple[int, bytes, str]:
        if path == "/healthz":
            return 200, b"ok\n", "text/plain"
        if path == "/readyz":
            ready = self._is_ready()
            return (200, b"ok\n", "text/plain") if ready else (503, b"not ready\n", "text/plain")
        if path == "/metrics":
            return 200, generate_latest(self._registry), CONTENT_TYPE_LATEST
        return 200, b"OK", "text/plain"

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        swept = time.monotonic()
        while not self._stopping.is_set():
            timeout = SWEEP_INTERVAL if self._clients else None
            for key, events in self._selector.select(timeout):
                if key.fileobj is self._socket:
                    self._accept()
                elif key.fileobj is self._wake_reader:
                    with contextlib.suppress(OSError):
                        self._wake_reader.recv(_READ)
                elif (client := self._clients.get(key.fd)) is not None:
                    self._serve(client, events)
            now = time.monotonic()
            if now - swept >= SWEEP_INTERVAL:
                self._sweep(now)
                swept = now

    def _accept(self) -> None:
        deadline = time.monotonic() + HEADER_TIMEOUT
        while True:
            try:
                connection, _ = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ECONNABORTED: the client is gone already
                continue
            connection.setblocking(False)
            client = _Client(connection, deadline)
            self._clients[connection.fileno()] = client
            self._selector.register(connection, selectors.EVENT_READ)
            self._read(client)  # the request is usually there already

    def _serve(self, client: _Client, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            self._flush(client)
        if events & selectors.EVENT_READ and client.socket.fileno() >= 0:
            self._read(client)

    def _read(self, client: _Client) -> None:
        try:
            data = client.socket.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the peer closed (a TCP probe) or reset the connection
            self._close(client)
            return
        if client.closing:
            return  # a response that ends the connection is on its way; ignore the rest
        client.received += data
        self._answer_complete_heads(client)

    def _answer_complete_heads(self, client: _Client) -> None:
        responses: list[bytes] = []
        while (end := client.received.find(_HEAD_END)) >= 0:
            head = bytes(client.received[:end])
            del client.received[: end + len(_HEAD_END)]
            response, keep = answer(head, self._response)
            responses.append(response)
            client.deadline = time.monotonic() + HEADER_TIMEOUT
            if not keep:
                client.closing = True
                client.received.clear()
                break
        if len(client.received) > MAX_HEADER:
            self._close(client)
            return
        if responses:
            client.unsent += b"".join(responses)
            self._flush(client)

    def _flush(self, client: _Client) -> None:
        try:
            sent = client.socket.send(client.unsent) if client.unsent else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(client)
            return
        client.unsent = client.unsent[sent:]
        if not client.unsent and client.closing:
            self._close(client)
        elif bool(client.unsent) != client.writing:
            client.writing = bool(client.unsent)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.writing else 0)
            self._selector.modify(client.socket, events)

    def _sweep(self, now: float) -> None:
        """Close connections whose request head did not complete in time (idle keep-alive
        included), as upstream's ReadHeaderTimeout does."""
        for client in [c for c in self._clients.values() if c.deadline < now]:
            self._close(client)

    def _close(self, client: _Client) -> None:
        descriptor = client.socket.fileno()
        if descriptor < 0:
            return
        self._clients.pop(descriptor, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(client.socket)
        client.socket.close()
