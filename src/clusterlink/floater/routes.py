"""The kernel's own answer to "where does a packet for this address go" (``ip route get``).

Read over netlink in the floater's namespace, so the doctor can compare what a node does
with what its NodeConfig says and name the hop whose agent reports success while its
routes have drifted.
"""

from __future__ import annotations

import socket

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from clusterlink.floater.outcome import RouteLookup


def lookup_routes(addresses: tuple[str, ...]) -> tuple[RouteLookup, ...]:
    if not addresses:
        return ()
    found: list[RouteLookup] = []
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            try:
                route = ipr.route("get", dst=address, family=family)[0]
            except NetlinkError as exc:
                found.append(RouteLookup(address, error=str(exc)))
                continue
            found.append(
                RouteLookup(
                    address,
                    dev=str(names.get(route.get_attr("RTA_OIF"), "")),
                    gateway=str(route.get_attr("RTA_GATEWAY") or ""),
                )
            )
    return tuple(found)
