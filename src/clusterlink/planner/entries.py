"""The entries of a node configuration as light tuples.

Millions of entries exist at scale; plain named tuples are several times cheaper to build
and compare than models, and convert 1:1 to the API models (:mod:`clusterlink.api.models`)
and their JSON when a configuration is written.
"""

from __future__ import annotations

from typing import NamedTuple


class DeviceEntry(NamedTuple):
    name: str
    addr: str
    mac: str
    bind_dev: str
    id: int
    port: int


class RouteEntry(NamedTuple):
    cidr: str
    gw: str
    dev: str


class NeighbourEntry(NamedTuple):
    """An FDB entry (``ip`` is a VTEP's underlay address) or an ARP/NDP entry."""

    ip: str
    mac: str
    dev: str


class RuleEntry(NamedTuple):
    table: str
    chain: str
    rule: str
