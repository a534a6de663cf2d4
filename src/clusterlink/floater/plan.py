"""A probe plan, validated before anything is sent: the floater's only input.

A plan arrives from the store, written by whoever may write ConfigMaps; it decides which
addresses this floater sends packets to. So it is parsed strictly: only unicast IP
addresses, real ports, bounded counts and times, known protocols and known fields; anything
else is rejected as a whole with an error that names the field.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

Protocol = Literal["ping", "tcp", "http", "mtu"]
PROTOCOLS: tuple[Protocol, ...] = ("ping", "tcp", "http", "mtu")
MAX_TARGETS = 10_000
MAX_COUNT = 100
MAX_CONCURRENCY = 256
MAX_MTU = 9000
MIN_MTU = 1280
_RUN = re.compile(r"^[a-z0-9]{1,32}$")
_PLAN_FIELDS = frozenset(
    {"run", "floater", "concurrency", "count", "interval", "timeout", "mtuMax", "targets", "routes"}
)
_TARGET_FIELDS = frozenset({"id", "address", "port", "protocols"})
_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")


class PlanError(ValueError):
    """A plan that cannot be run; the message names the field and why."""


@dataclass(frozen=True, slots=True)
class Target:
    """One destination: an address, the peer floater's port, and what to probe there."""

    id: str
    address: str
    port: int
    protocols: tuple[Protocol, ...]

    @property
    def family(self) -> Literal[4, 6]:
        return 6 if ":" in self.address else 4


@dataclass(frozen=True, slots=True)
class ProbePlan:
    run: str
    floater: str
    targets: tuple[Target, ...]
    count: int = 3
    interval: float = 0.05
    timeout: float = 1.0
    concurrency: int = 64
    mtu_max: int = 1500
    routes: tuple[str, ...] = ()  # addresses whose kernel route this floater reports

    @property
    def probe_count(self) -> int:
        return sum(len(target.protocols) for target in self.targets)

    def to_document(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "floater": self.floater,
            "concurrency": self.concurrency,
            "count": self.count,
            "interval": self.interval,
            "timeout": self.timeout,
            "mtuMax": self.mtu_max,
            "targets": [
                {
                    "id": t.id,
                    "address": t.address,
                    "port": t.port,
                    "protocols": list(t.protocols),
                }
                for t in self.targets
            ],
            "routes": list(self.routes),
        }


def unicast_address(text: object, field: str) -> str:
    """The address in canonical form, or :class:`PlanError` unless it is one unicast IP."""
    if not isinstance(text, str):
        raise PlanError(f"{field}: expected an IP address as a string, got {text!r}")
    facts = _address_facts(text)
    if facts is None:
        raise PlanError(f"{field}: {text!r} is not an IP address")
    canonical, unicast = facts
    if not unicast:
        raise PlanError(f"{field}: {text} is not a unicast address")
    return canonical


@functools.lru_cache(maxsize=4096)
def _address_facts(text: str) -> tuple[str, bool] | None:
    """(canonical form, whether unicast) of an IP address, None when ``text`` is none; kept
    because every run's plans name the same peers, and formatting IPv6 addresses was a
    good part of parsing a plan."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    canonical = str(address)
    unicast = not (address.is_multicast or address.is_unspecified or canonical == "255.255.255.255")
    return canonical, unicast


def port_number(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise PlanError(f"{field}: expected a port between 1 and 65535, got {value!r}")
    return value


def _bounded_int(document: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = document.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise PlanError(f"{key}: expected an integer between {low} and {high}, got {value!r}")
    return value


def _bounded_float(
    document: Mapping[str, Any], key: str, default: float, low: float, high: float
) -> float:
    value = document.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise PlanError(f"{key}: expected a number between {low} and {high}, got {value!r}")
    return float(value)


def _unknown(document: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    if document.keys() <= allowed:
        return
    extra = sorted(set(document) - allowed)
    if extra:
        raise PlanError(f"{where}: unknown field(s) {', '.join(extra)}")


def _protocols(value: object, field: str) -> tuple[Protocol, ...]:
    if not isinstance(value, list) or not value:
        raise PlanError(f"{field}: expected a non-empty list of {', '.join(PROTOCOLS)}")
    chosen: list[Protocol] = []
    for item in value:
        if item not in PROTOCOLS:
            raise PlanError(f"{field}: unknown protocol {item!r} (use {', '.join(PROTOCOLS)})")
        if item not in chosen:
            chosen.append(cast(Protocol, item))
    return tuple(chosen)


def _target(document: object, index: int) -> Target:
    where = f"targets[{index}]"
    if not isinstance(document, Mapping):
        raise PlanError(f"{where}: expected an object, got {document!r}")
    _unknown(document, _TARGET_FIELDS, where)
    identifier = document.get("id", str(index))
    if not isinstance(identifier, str) or not _ID.match(identifier):
        raise PlanError(f"{where}.id: expected 1-128 letters, digits or ._:/-, got {identifier!r}")
    return Target(
        id=identifier,
        address=unicast_address(document.get("address"), f"{where}.address"),
        port=port_number(document.get("port"), f"{where}.port"),
        protocols=_protocols(document.get("protocols"), f"{where}.protocols"),
    )


def parse_plan(document: object) -> ProbePlan:
    """The plan in ``document`` (parsed JSON), or :class:`PlanError` naming the bad field."""
    if not isinstance(document, Mapping):
        raise PlanError(f"plan: expected an object, got {type(document).__name__}")
    _unknown(document, _PLAN_FIELDS, "plan")
    run = document.get("run")
    if not isinstance(run, str) or not _RUN.match(run):
        raise PlanError(f"run: expected 1-32 lowercase letters or digits, got {run!r}")
    floater = document.get("floater")
    if not isinstance(floater, str) or not floater:
        raise PlanError(f"floater: expected the name of the floater, got {floater!r}")
    targets = document.get("targets")
    if not isinstance(targets, list):
        raise PlanError(f"targets: expected a list, got {targets!r}")
    if len(targets) > MAX_TARGETS:
        raise PlanError(f"targets: at most {MAX_TARGETS} per plan, got {len(targets)}")
    parsed = tuple(_target(item, index) for index, item in enumerate(targets))
    if len({target.id for target in parsed}) != len(parsed):
        raise PlanError("targets: ids must be unique")
    routes = document.get("routes", [])
    if not isinstance(routes, list) or len(routes) > MAX_TARGETS:
        raise PlanError(f"routes: expected a list of at most {MAX_TARGETS} addresses")
    return ProbePlan(
        run=run,
        floater=floater,
        targets=parsed,
        count=_bounded_int(document, "count", 3, 1, MAX_COUNT),
        interval=_bounded_float(document, "interval", 0.05, 0.01, 10.0),
        timeout=_bounded_float(document, "timeout", 1.0, 0.05, 30.0),
        concurrency=_bounded_int(document, "concurrency", 64, 1, MAX_CONCURRENCY),
        mtu_max=_bounded_int(document, "mtuMax", 1500, MIN_MTU, MAX_MTU),
        routes=tuple(unicast_address(a, f"routes[{i}]") for i, a in enumerate(routes)),
    )
