"""ICMP echo from Python sockets (no shell, no ``ping`` binary), for IPv4 and IPv6.

An unprivileged ICMP datagram socket is used where ``net.ipv4.ping_group_range`` allows
it, a raw socket otherwise (the floater runs privileged, as upstream's). Each probe owns its
socket and connects it to the target, so the kernel hands it only that address's packets
and probes can run side by side.
"""

from __future__ import annotations

import errno
import secrets
import select
import socket
import struct
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

from clusterlink.floater.outcome import ProbeOutcome

Family = Literal[4, 6]
_ECHO_REQUEST: dict[Family, int] = {4: 8, 6: 128}
_ECHO_REPLY: dict[Family, int] = {4: 0, 6: 129}
_HEADER = struct.Struct("!BBHHH")
IP_HEADERS: dict[Family, int] = {4: 20 + 8, 6: 40 + 8}  # IP + ICMP header bytes
_PAYLOAD = b"clusterlink-floater"


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def echo_request(family: Family, ident: int, sequence: int, payload: bytes) -> bytes:
    """An echo request; IPv6 checksums are filled in by the kernel."""
    header = _HEADER.pack(_ECHO_REQUEST[family], 0, 0, ident, sequence)
    if family == 6:
        return header + payload
    packed = checksum(header + payload)
    return _HEADER.pack(_ECHO_REQUEST[family], 0, packed, ident, sequence) + payload


def reply_sequence(family: Family, data: bytes, *, raw: bool, ident: int) -> int | None:
    """The sequence number when ``data`` is an echo reply for us, else None."""
    if raw and family == 4:
        data = data[(data[0] & 0x0F) * 4 :] if data else data
    if len(data) < _HEADER.size:
        return None
    kind, _, _, reply_ident, sequence = _HEADER.unpack_from(data)
    if kind != _ECHO_REPLY[family] or (raw and reply_ident != ident):
        return None
    return int(sequence)


@dataclass
class EchoSocket:
    """An ICMP socket connected to one address; datagram if allowed, raw otherwise."""

    address: str

    def __post_init__(self) -> None:
        self.family: Family = 6 if ":" in self.address else 4
        domain = socket.AF_INET6 if self.family == 6 else socket.AF_INET
        protocol = socket.IPPROTO_ICMPV6 if self.family == 6 else socket.IPPROTO_ICMP
        try:
            self.socket = socket.socket(domain, socket.SOCK_DGRAM, protocol)
            self.raw = False
        except PermissionError:
            self.socket = socket.socket(domain, socket.SOCK_RAW, protocol)
            self.raw = True
        self.ident = secrets.randbits(16)  # the kernel replaces it on datagram sockets
        self.socket.setblocking(False)
        self.socket.connect((self.address, 0))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.socket.close()

    def send(self, sequence: int, payload: bytes = _PAYLOAD) -> None:
        self.socket.send(echo_request(self.family, self.ident, sequence, payload))

    def receive(self, until: float) -> int | None:
        """The sequence number of the next reply before ``until`` (monotonic), or None."""
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self.socket], [], [], remaining)
            if not readable:
                return None
            try:
                data = self.socket.recv(65535)
            except BlockingIOError:
                continue
            sequence = reply_sequence(self.family, data, raw=self.raw, ident=self.ident)
            if sequence is not None:
                return sequence


def ping(target: str, address: str, *, count: int, interval: float, timeout: float) -> ProbeOutcome:
    """``count`` echoes ``interval`` apart; replies are awaited until ``timeout`` after the
    last one, so a dead target costs about ``(count - 1) * interval + timeout``."""
    sent_at: dict[int, float] = {}
    rtts: dict[int, float] = {}
    error = ""
    try:
        with EchoSocket(address) as echo:
            for sequence in range(1, count + 1):
                sent_at[sequence] = time.monotonic()
                try:
                    echo.send(sequence)
                except OSError as exc:
                    error = _describe(exc)
                last = sequence == count
                until = sent_at[sequence] + (timeout if last else interval)
                while len(rtts) < len(sent_at):
                    try:
                        answered = echo.receive(until)
                    except OSError as exc:
                        error = _describe(exc)
                        answered = None
                    if answered is None:
                        break
                    if answered in sent_at and answered not in rtts:
                        rtts[answered] = (time.monotonic() - sent_at[answered]) * 1000
                if not last:
                    time.sleep(max(0.0, until - time.monotonic()))
    except OSError as exc:
        return ProbeOutcome(target, address, "ping", 0, 0, error=_describe(exc))
    return ProbeOutcome.from_rtts(
        target, address, "ping", sent=count, rtts=list(rtts.values()), error=error
    )


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{name}: {exc.strerror}" if name and exc.strerror else str(exc)
