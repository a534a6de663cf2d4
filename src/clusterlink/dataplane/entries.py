"""The bulk entries the agent owns: table-200 routes, VXLAN FDB and permanent neighbours.

Each kind exists in three forms: the line ``ip``/``bridge`` prints for it, a canonical
entry parsed from such a line (or built from the spec), and the batch commands that add and
delete it. Comparing whole dumps as sets of printed lines is what makes a resync of tens of
thousands of entries cheap; only lines that differ are parsed, so an entry that is merely
printed differently from how the spec spells it (``10.1.6.0/18``, upper-case MACs) is still
recognised as present.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from dataclasses import dataclass

from clusterlink.api import constants as c
from clusterlink.api.models import Arp, Fdb, Route

TABLE = str(c.ROUTE_TABLE)
_ROUTE_TYPES = frozenset(
    [
        "unicast",
        "unreachable",
        "blackhole",
        "prohibit",
        "local",
        "broadcast",
        "throw",
        "nat",
        "anycast",
        "multicast",
    ]
)
_DEFAULT_METRIC = {4: 0, 6: 1024}
_DEFAULT_DST = {4: "0.0.0.0/0", 6: "::/0"}


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# IPv4 in the one spelling iproute2 prints; anything else goes through ipaddress (slower).
_CANONICAL_V4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_V4_LENGTHS = frozenset(str(length) for length in range(33))


def canonical_address(text: str) -> str:
    if _CANONICAL_V4.fullmatch(text):
        return text
    return str(ipaddress.ip_address(text.strip()))


def canonical_network(text: str) -> str:
    """``10.1.6.0/18`` -> ``10.1.0.0/18``, as the kernel stores and prints it."""
    address, _, length = text.partition("/")
    if _CANONICAL_V4.fullmatch(address) and length in _V4_LENGTHS:
        value = int.from_bytes(bytes(map(int, address.split("."))), "big")
        if value & ((1 << (32 - int(length))) - 1) == 0:
            return text
    return str(ipaddress.ip_network(text.strip(), strict=False))


def family_of(address: str) -> int:
    return 6 if ":" in address else 4


# --- routes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """A route of table 200. ``slot`` is what ``ip route replace`` overwrites in place."""

    family: int
    dst: str
    gw: str | None
    dev: str | None
    onlink: bool = True
    type: str = "unicast"
    metric: int | None = None

    @property
    def slot(self) -> tuple[int, str, int]:
        metric = _DEFAULT_METRIC[self.family] if self.metric is None else self.metric
        return (self.family, self.dst, metric)

    def add_command(self) -> str:
        return f"route replace {self.dst} via {self.gw} dev {self.dev} onlink table {TABLE}"

    def delete_command(self) -> str:
        words = ["route", "del", self.type, self.dst]
        if self.gw:
            words += ["via", self.gw]
        if self.dev:
            words += ["dev", self.dev]
        if self.metric is not None:
            words += ["metric", str(self.metric)]
        return " ".join([*words, "table", TABLE])

    def describe(self) -> str:
        via = f" via {self.gw}" if self.gw else ""
        dev = f" dev {self.dev}" if self.dev else ""
        kind = "" if self.type == "unicast" else f"{self.type} "
        return f"route {kind}{self.dst}{via}{dev} table {TABLE}"


def route_show_line(route: Route) -> str:
    """The line ``ip route show table 200`` prints for the spec's route, as spelled there."""
    cidr = route.cidr
    if ":" in cidr:
        dst = cidr[:-4] if cidr.endswith("/128") else cidr
        return f"{dst} via {route.gw} dev {route.dev} metric 1024 onlink pref medium"
    dst = cidr[:-3] if cidr.endswith("/32") else cidr
    return f"{dst} via {route.gw} dev {route.dev} onlink "


def route_entry(route: Route) -> RouteEntry:
    dst = canonical_network(route.cidr)
    return RouteEntry(family_of(dst), dst, canonical_address(route.gw), route.dev)


def parse_route_line(line: str, family: int) -> RouteEntry | None:
    """The route of one (possibly multi-line, joined) ``ip route show`` entry."""
    words = line.split()
    if not words:
        return None
    kind = "unicast"
    if words[0] in _ROUTE_TYPES:
        kind = words.pop(0)
    if not words:
        return None
    try:
        dst = _DEFAULT_DST[family] if words[0] == "default" else canonical_network(words[0])
    except ValueError:
        return None
    values: dict[str, str] = {}
    for key, value in itertools.pairwise(words[1:]):
        if key in ("via", "dev", "metric") and key not in values:
            values[key] = value
    gw = values.get("via")
    if gw is not None and gw.startswith(
        "inet"
    ):  # "via inet6 <addr>": a gateway of the other family
        return RouteEntry(
            family, dst, None, values.get("dev"), False, kind, _metric(values, family)
        )
    return RouteEntry(
        family,
        dst,
        canonical_address(gw) if gw else None,
        values.get("dev"),
        "onlink" in words,
        kind,
        _metric(values, family),
    )


def _metric(values: dict[str, str], family: int) -> int | None:
    """The route's metric; None when it is the family's default, as for the spec's routes."""
    text = values.get("metric")
    if not text or not text.isdigit() or int(text) == _DEFAULT_METRIC[family]:
        return None
    return int(text)


# --- FDB -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """A VXLAN forwarding entry; ``options`` keeps non-default port/VNI/via for deletion."""

    dev: str
    mac: str
    dst: str | None
    options: tuple[str, ...] = ()

    @property
    def slot(self) -> tuple[str, str, str | None, tuple[str, ...]]:
        return (self.dev, self.mac, self.dst, self.options)

    def add_command(self) -> str:
        return f"fdb append {self.mac} dev {self.dev} dst {self.dst} self permanent"

    def delete_command(self) -> str:
        dst = f" dst {self.dst}" if self.dst else ""
        options = "".join(f" {word}" for word in self.options)
        return f"fdb del {self.mac} dev {self.dev}{dst}{options} self"

    def describe(self) -> str:
        return f"fdb {self.mac} dev {self.dev} dst {self.dst}"


def fdb_show_line(fdb: Fdb) -> str:
    """The line ``bridge fdb show dev <dev>`` prints for the spec's entry."""
    return f"{fdb.mac} dst {fdb.ip} self permanent"


def fdb_entry(fdb: Fdb) -> FdbEntry:
    return FdbEntry(fdb.dev, fdb.mac.lower(), canonical_address(fdb.ip))


def parse_fdb_line(line: str, dev: str) -> FdbEntry | None:
    """One ``bridge fdb show dev <dev>`` line; entries of a master bridge are not ours."""
    words = line.split()
    if len(words) < 2 or "self" not in words:
        return None
    dst: str | None = None
    options: list[str] = []
    for key, value in itertools.pairwise(words[1:]):
        if key == "dst":
            try:
                dst = canonical_address(value)
            except ValueError:
                return None
        elif key in ("port", "vni", "via", "src_vni"):
            options += [key, value]
    return FdbEntry(dev, words[0].lower(), dst, tuple(options))


# --- neighbours ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NeighEntry:
    """A permanent ARP/NDP entry; ``ip neigh replace`` overwrites the one of its ``slot``."""

    dev: str
    ip: str
    mac: str | None

    @property
    def slot(self) -> tuple[str, str]:
        return (self.dev, self.ip)

    def add_command(self) -> str:
        return f"neigh replace {self.ip} lladdr {self.mac} dev {self.dev} nud permanent"

    def delete_command(self) -> str:
        return f"neigh del {self.ip} dev {self.dev}"

    def describe(self) -> str:
        return f"neigh {self.ip} lladdr {self.mac} dev {self.dev}"


def neigh_show_line(arp: Arp) -> str:
    """The line ``ip neigh show dev <dev> nud permanent`` prints for the spec's entry."""
    return f"{arp.ip} lladdr {arp.mac} PERMANENT "


def neigh_entry(arp: Arp) -> NeighEntry:
    return NeighEntry(arp.dev, canonical_address(arp.ip), arp.mac.lower())


def parse_neigh_line(line: str, dev: str) -> NeighEntry | None:
    words = line.split()
    if not words:
        return None
    try:
        ip = canonical_address(words[0])
    except ValueError:
        return None
    mac = None
    if "lladdr" in words[:-1]:
        mac = words[words.index("lladdr") + 1].lower()
    return NeighEntry(dev, ip, mac)


def show_lines(text: str) -> frozenset[str]:
    """The entries of an ``ip``/``bridge`` listing, continuation lines joined to their entry."""
    if "\n\t" not in text and "\n " not in text:
        lines = frozenset(text.split("\n"))
        return lines - {""} if "" in lines else lines
    joined: list[str] = []
    for line in text.split("\n"):
        if line[:1] in ("\t", " ") and joined:
            joined[-1] = f"{joined[-1]} {line.strip()}"
        elif line:
            joined.append(line)
    return frozenset(joined)
