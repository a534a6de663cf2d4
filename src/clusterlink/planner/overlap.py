"""An index of CIDRs answering "which entries overlap this network?" in O(log n + answers).

Conflict detection between clusters would otherwise compare every exported CIDR with every
cluster's own CIDRs: O(clusters²). Aligned prefixes overlap only by containment, so a
query looks up the query's supernets directly (one dict probe per shorter prefix length)
and its subnets by a range search in a sorted list per longer prefix length.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from clusterlink.api.validation import IPNetwork

K = TypeVar("K", bound=Hashable)

_Table = tuple[int, int]  # (IP version, prefix length)


@dataclass
class OverlapIndex(Generic[K]):
    _exact: dict[_Table, dict[int, set[K]]] = field(default_factory=dict)
    _sorted: dict[_Table, list[int]] = field(default_factory=dict)

    def add(self, network: IPNetwork, key: K) -> None:
        table = (network.version, network.prefixlen)
        start = int(network.network_address)
        keys = self._exact.setdefault(table, {}).setdefault(start, set())
        if not keys:
            bisect.insort(self._sorted.setdefault(table, []), start)
        keys.add(key)

    def discard(self, network: IPNetwork, key: K) -> None:
        table = (network.version, network.prefixlen)
        start = int(network.network_address)
        keys = self._exact.get(table, {}).get(start)
        if not keys or key not in keys:
            return
        keys.remove(key)
        if not keys:
            del self._exact[table][start]
            starts = self._sorted[table]
            del starts[bisect.bisect_left(starts, start)]

    def overlapping(self, network: IPNetwork) -> set[K]:
        """Keys of every indexed network that contains or is contained in ``network``."""
        found: set[K] = set()
        version, prefix = network.version, network.prefixlen
        start = int(network.network_address)
        bits = network.max_prefixlen
        for table, entries in self._exact.items():
            if table[0] != version:
                continue
            length = table[1]
            if length <= prefix:
                supernet = start >> (bits - length) << (bits - length) if length else 0
                found |= entries.get(supernet, set())
            else:
                starts = self._sorted[table]
                end = start + network.num_addresses
                low = bisect.bisect_left(starts, start)
                high = bisect.bisect_left(starts, end)
                for inner in starts[low:high]:
                    found |= entries[inner]
        return found
