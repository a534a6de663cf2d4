"""Path MTU: the largest packet that crosses the path both ways with don't-fragment set.

A binary search with ICMP echoes on a socket with ``IP_PMTUDISC_DO`` (IPv4) or
``IPV6_PMTUDISC_DO`` (IPv6): once a hop reports "fragmentation needed" the kernel refuses
larger sends at once (``EMSGSIZE``), so the search mostly costs round trips, not timeouts.
This finds the MTU problems that let pings through and break bulk traffic over VXLAN.
It is a coroutine on the plan's event loop like every other probe; only its socket is its
own, connected to the target, because the path's don't-fragment state lives there.
"""

from __future__ import annotations

import asyncio
import socket

from clusterlink.floater.icmp import IP_HEADERS, EchoSocket, describe
from clusterlink.floater.outcome import ProbeOutcome

# <linux/in.h> and <linux/in6.h>; Python's socket module does not export them.
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DO = 2
IPV6_MTU_DISCOVER = 23
IPV6_PMTUDISC_DO = 2
MIN_PACKET = {4: 576, 6: 1280}


def _forbid_fragments(echo: EchoSocket) -> None:
    if echo.family == 4:
        echo.socket.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    else:
        echo.socket.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)


async def _reply_to(echo: EchoSocket, sequence: int) -> None:
    while await echo.receive() != sequence:
        pass


async def _passes(echo: EchoSocket, size: int, sequence: int, timeout: float) -> bool:
    payload = b"\xa5" * (size - IP_HEADERS[echo.family])
    try:
        echo.send(sequence, payload)
    except OSError:  # EMSGSIZE: the kernel already knows the path is narrower
        return False
    try:
        async with asyncio.timeout(timeout):
            await _reply_to(echo, sequence)
    except (TimeoutError, OSError):
        return False
    return True


async def path_mtu(target: str, address: str, *, largest: int, timeout: float) -> ProbeOutcome:
    """The largest packet size in ``[minimum, largest]`` that gets an echo reply."""
    sent = 0
    try:
        with EchoSocket(address) as echo:
            _forbid_fragments(echo)
            low = MIN_PACKET[echo.family]
            sent += 1
            if not await _passes(echo, low, sent, timeout):
                return ProbeOutcome(
                    target, address, "mtu", sent, 0, error=f"no reply to {low}-byte packets"
                )
            high = largest
            while low < high:
                middle = (low + high + 1) // 2
                sent += 1
                if await _passes(echo, middle, sent, timeout):
                    low = middle
                else:
                    high = middle - 1
    except OSError as exc:
        return ProbeOutcome(target, address, "mtu", sent, 0, error=describe(exc))
    return ProbeOutcome(target, address, "mtu", 1, 1, mtu=low)
