"""Tunnel device addresses and MACs.

Upstream derives a device address by splicing the low bits of the node's underlay address
into the tunnel CIDR, without any collision check: ``10.1.2.3`` and ``192.1.2.3`` both get
``220.1.2.3/8``. We splice too (so upstream users see the addresses they expect), but an
:class:`AddressBook` records who holds each address, a held address is never given twice,
and a device keeps the address it had as long as it is still valid.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from clusterlink.api.validation import IPAddress, IPNetwork

# (node name, device name) -> MAC. Injected so that the planner stays deterministic.
MacSource = Callable[[str, str], str]


def random_mac(node: str, device: str) -> str:
    """A random locally administered unicast MAC (the production source)."""
    return _format_mac(secrets.token_bytes(6))


def stable_mac(node: str, device: str) -> str:
    """A MAC derived from the names: deterministic, for tests and benchmarks."""
    return _format_mac(hashlib.blake2b(f"{node}/{device}".encode(), digest_size=6).digest())


def _format_mac(raw: bytes) -> str:
    first = (raw[0] | 0x02) & 0xFE  # locally administered, unicast
    return ":".join(f"{b:02x}" for b in (first, *raw[1:]))


def splice_address(underlay: IPAddress, space: IPNetwork) -> IPAddress:
    """The network bits of ``space`` followed by the host bits of ``underlay``."""
    host_bits = int(underlay) & int(space.hostmask)
    return ipaddress.ip_address(int(space.network_address) | host_bits)


def _assignable(address: IPAddress, space: IPNetwork) -> bool:
    if address not in space:
        return False
    if space.version == 4 and space.prefixlen < 31:
        return address not in (space.network_address, space.broadcast_address)
    return address != space.network_address


@dataclass
class AddressBook:
    """Who holds which tunnel address, per address space.

    A space is a key such as ``("bridge", 4)`` (one for the whole federation: bridge
    devices of all clusters reach each other) or ``("local", "cluster-a", 4)`` (local
    devices only meet within their cluster).
    """

    _holders: dict[tuple[object, ...], dict[IPAddress, str]] = field(default_factory=dict)

    def release(self, space: tuple[object, ...], address: IPAddress, holder: str) -> None:
        taken = self._holders.get(space)
        if taken is not None and taken.get(address) == holder:
            del taken[address]

    def claim(self, space: tuple[object, ...], address: IPAddress, holder: str) -> bool:
        """Take ``address`` if it is free (or already ours); False if someone else has it."""
        taken = self._holders.setdefault(space, {})
        owner = taken.setdefault(address, holder)
        return owner == holder

    def allocate(
        self, space: tuple[object, ...], network: IPNetwork, preferred: IPAddress, holder: str
    ) -> IPAddress | None:
        """``preferred`` if free, else the next free address after it (wrapping around)."""
        taken = self._holders.setdefault(space, {})
        size = network.num_addresses
        base = int(network.network_address)
        offset = int(preferred) - base
        for step in range(size):
            candidate = ipaddress.ip_address(base + (offset + step) % size)
            if candidate not in taken and _assignable(candidate, network):
                taken[candidate] = holder
                return candidate
        return None
