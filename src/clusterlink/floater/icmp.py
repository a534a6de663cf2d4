"""ICMP echo from Python sockets (no shell, no ``ping`` binary), for IPv4 and IPv6.

An unprivileged ICMP datagram socket is used where ``net.ipv4.ping_group_range`` allows
it, a raw socket otherwise (the host-network floater runs with ``NET_RAW``).

A plan pings hundreds of targets at once, so echoes are coroutines on the plan's event
loop sharing one socket per family (:class:`EchoChannel`): the loop wakes up once per reply
and hands it to its probe by sequence number. A thread and a socket per probe cost the
floater far more CPU than the probes themselves, which on a busy node delayed the very
replies it was timing. Raw sockets are filtered by the kernel to echo replies, so the
echo requests of the peers probing this floater at the same moment never wake it up.

:class:`EchoSocket`, one socket connected to one address, stays for the path-MTU probe,
whose don't-fragment state belongs to a single path.
"""

from __future__ import annotations

import asyncio
import errno
import secrets
import socket
import struct
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

from clusterlink.floater.outcome import ProbeOutcome
from clusterlink.floater.waits import settled

Family = Literal[4, 6]
_ECHO_REQUEST: dict[Family, int] = {4: 8, 6: 128}
_ECHO_REPLY: dict[Family, int] = {4: 0, 6: 129}
_HEADER = struct.Struct("!BBHHH")
IP_HEADERS: dict[Family, int] = {4: 20 + 8, 6: 40 + 8}  # IP + ICMP header bytes
_PAYLOAD = b"clusterlink-floater"
_SEQUENCES = 1 << 16
# <linux/icmp.h> and <linux/icmpv6.h>: which ICMP types a raw socket is *not* given.
SOL_RAW = 255
ICMP_FILTER = 1
ICMP6_FILTER = 1
_RECEIVE_BUFFER = 65535


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


def family_of(address: str) -> Family:
    return 6 if ":" in address else 4


def open_icmp_socket(family: Family) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket of ``family`` and whether it is raw."""
    domain = socket.AF_INET6 if family == 6 else socket.AF_INET
    protocol = socket.IPPROTO_ICMPV6 if family == 6 else socket.IPPROTO_ICMP
    try:
        opened = socket.socket(domain, socket.SOCK_DGRAM, protocol)
        raw = False
    except PermissionError:
        opened = socket.socket(domain, socket.SOCK_RAW, protocol)
        raw = True
    opened.setblocking(False)
    return opened, raw


def pass_only_echo_replies(opened: socket.socket, family: Family) -> None:
    """Have the kernel give this raw socket echo replies only (a bit set blocks a type)."""
    if family == 4:
        blocked = ~(1 << _ECHO_REPLY[4]) & 0xFFFFFFFF
        opened.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", blocked))
        return
    words = [0xFFFFFFFF] * 8
    words[_ECHO_REPLY[6] >> 5] &= ~(1 << (_ECHO_REPLY[6] & 31)) & 0xFFFFFFFF
    opened.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))


@dataclass
class EchoSocket:
    """An ICMP socket connected to one address; datagram if allowed, raw otherwise."""

    address: str

    def __post_init__(self) -> None:
        self.family: Family = family_of(self.address)
        self.socket, self.raw = open_icmp_socket(self.family)
        self.ident = secrets.randbits(16)  # the kernel replaces it on datagram sockets
        try:
            self.socket.connect((self.address, 0))
        except OSError:
            self.socket.close()
            raise

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

    async def receive(self) -> int | None:
        """The sequence number of the next datagram, None when it is not a reply for us."""
        data = await asyncio.get_running_loop().sock_recv(self.socket, _RECEIVE_BUFFER)
        return reply_sequence(self.family, data, raw=self.raw, ident=self.ident)


@dataclass
class _Echoes:
    """The echoes of one ping probe: when each was sent, the round trips answered, and a
    future done once every echo is answered (or its probe stopped waiting)."""

    address: str
    done: asyncio.Future[None]
    sent_at: dict[int, float] = field(default_factory=dict)
    rtts: list[float] = field(default_factory=list)
    all_sent: bool = False

    def answer(self, sequence: int, received_at: float) -> None:
        sent = self.sent_at.pop(sequence, None)
        if sent is None:
            return
        self.rtts.append((received_at - sent) * 1000)
        if self.all_sent and not self.sent_at and not self.done.done():
            self.done.set_result(None)


class EchoChannel:
    """One unconnected ICMP socket of one family, shared by every echo of a plan.

    Sequence numbers are unique on the channel (they wrap after 65536, far more than a
    plan's concurrency times its count keeps in flight), so a reply finds its probe with
    one dictionary look-up; its source address must also be the one the echo went to.
    """

    def __init__(self, family: Family, loop: asyncio.AbstractEventLoop) -> None:
        self.family = family
        self._loop = loop
        self._socket, self._raw = open_icmp_socket(family)
        try:
            if self._raw:
                pass_only_echo_replies(self._socket, family)
        except OSError:
            self._socket.close()
            raise
        self._ident = secrets.randbits(16)
        self._next = secrets.randbelow(_SEQUENCES)
        self._waiting: dict[int, _Echoes] = {}
        loop.add_reader(self._socket.fileno(), self._on_readable)

    def close(self) -> None:
        self._loop.remove_reader(self._socket.fileno())
        self._socket.close()

    def send(self, echoes: _Echoes, payload: bytes = _PAYLOAD) -> None:
        """One echo request for ``echoes``; OSError when the kernel refuses it at once."""
        sequence = self._next
        self._next = (sequence + 1) % _SEQUENCES
        packet = echo_request(self.family, self._ident, sequence, payload)
        self._socket.sendto(packet, (echoes.address, 0))
        echoes.sent_at[sequence] = time.monotonic()
        self._waiting[sequence] = echoes

    def forget(self, echoes: _Echoes) -> None:
        for sequence in echoes.sent_at:
            self._waiting.pop(sequence, None)

    def _on_readable(self) -> None:
        while True:
            try:
                data, source = self._socket.recvfrom(_RECEIVE_BUFFER)
            except OSError:  # nothing more to read, or an error queued for the socket: the
                return  # loop calls again while replies are waiting
            received_at = time.monotonic()
            sequence = reply_sequence(self.family, data, raw=self._raw, ident=self._ident)
            echoes = self._waiting.get(sequence) if sequence is not None else None
            if echoes is not None and sequence is not None and source[0] == echoes.address:
                del self._waiting[sequence]
                echoes.answer(sequence, received_at)


class EchoChannels:
    """The plan's channels, one per family, opened when first needed; an error opening one
    is remembered and given to every probe of that family."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._open: dict[Family, EchoChannel | OSError] = {}

    def of(self, family: Family) -> EchoChannel:
        if family not in self._open:
            try:
                self._open[family] = EchoChannel(family, self._loop)
            except OSError as exc:
                self._open[family] = exc
        found = self._open[family]
        if isinstance(found, OSError):
            raise found
        return found

    def close(self) -> None:
        for channel in self._open.values():
            if isinstance(channel, EchoChannel):
                channel.close()
        self._open.clear()


async def ping(
    channels: EchoChannels,
    target: str,
    address: str,
    *,
    count: int,
    interval: float,
    timeout: float,
) -> ProbeOutcome:
    """``count`` echoes ``interval`` apart; replies are awaited until ``timeout`` after the
    last one, so a dead target costs about ``(count - 1) * interval + timeout``."""
    try:
        channel = channels.of(family_of(address))
    except OSError as exc:
        return ProbeOutcome(target, address, "ping", 0, 0, error=describe(exc))
    loop = asyncio.get_running_loop()
    echoes = _Echoes(address, loop.create_future())
    error = ""
    try:
        for attempt in range(count):
            if attempt:
                await asyncio.sleep(interval)
            try:
                channel.send(echoes)
            except OSError as exc:
                error = describe(exc)
        echoes.all_sent = True
        if echoes.sent_at:
            await settled(echoes.done, loop.time() + timeout)
    finally:
        channel.forget(echoes)
    return ProbeOutcome.from_rtts(
        target, address, "ping", sent=count, rtts=echoes.rtts, error=error
    )


def describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{name}: {exc.strerror}" if name and exc.strerror else str(exc)
