"""The floater's own addresses, read over netlink when none are given on the command line.

Global-scope addresses of every interface but ``lo``, IPv4 first: what a peer in another
cluster can use to reach this floater (a pod's IPs, or a node's InternalIPs).
"""

from __future__ import annotations

import ipaddress

from pyroute2 import IPRoute

_SCOPE_GLOBAL = 0


def local_addresses() -> tuple[str, ...]:
    found: list[str] = []
    with IPRoute() as ipr:
        for message in ipr.get_addr():
            if message["scope"] != _SCOPE_GLOBAL:
                continue
            address = message.get_attr("IFA_ADDRESS")
            if address and not ipaddress.ip_address(address).is_loopback:
                found.append(str(address))
    return tuple(sorted(set(found), key=lambda a: (":" in a, a)))
