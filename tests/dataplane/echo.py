"""ICMP echo ("ping") from inside a network namespace, so the tests need no ping binary.

Run as ``python echo.py ADDRESS``: exit status 0 when an echo reply comes back within the
attempts, 1 otherwise.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

ATTEMPTS = 5
WAIT_SECONDS = 1.0


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int(word) for word in struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo(address: str) -> bool:
    six = ":" in address
    family = socket.AF_INET6 if six else socket.AF_INET
    protocol = socket.IPPROTO_ICMPV6 if six else socket.IPPROTO_ICMP
    request, reply = (128, 129) if six else (8, 0)
    ident = os.getpid() & 0xFFFF
    with socket.socket(family, socket.SOCK_RAW, protocol) as sock:
        for sequence in range(ATTEMPTS):
            body = struct.pack("!HH", ident, sequence) + b"clusterlink-test"
            # The kernel fills in the ICMPv6 checksum (it covers the IPv6 pseudo-header).
            check = 0 if six else checksum(struct.pack("!BBH", request, 0, 0) + body)
            sock.sendto(struct.pack("!BBH", request, 0, check) + body, (address, 0))
            deadline = time.monotonic() + WAIT_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    packet = sock.recv(2048)
                except TimeoutError:
                    break
                icmp = packet if six else packet[(packet[0] & 0x0F) * 4 :]
                kind, _, _, got_ident, got_sequence = struct.unpack("!BBHHH", icmp[:8])
                if (kind, got_ident, got_sequence) == (reply, ident, sequence):
                    return True
    return False


if __name__ == "__main__":
    sys.exit(0 if echo(sys.argv[1]) else 1)
