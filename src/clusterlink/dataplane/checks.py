"""Rejecting an invalid spec before anything is touched, at the cost of what changes.

``check_node_config_spec`` parses every address of every entry; at 40,000 entries that
alone would cost more than a whole resync. An entry whose printed form the kernel already
shows, character for character, holds addresses the kernel parsed: only the devices, the
iptables rules and the entries about to be written are checked. Problems name the field
with the entry's index in the spec as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clusterlink.api.errors import ObjectRef, Problem
from clusterlink.api.models import Arp, Fdb, NodeConfigSpec, Route
from clusterlink.api.validation import check_node_config_spec
from clusterlink.dataplane.render import Rendered

_INDEX = re.compile(r"^spec\.(routes|fdbs|arps)\[(\d+)\]")


class InvalidSpecError(ValueError):
    """A spec that must not be applied; ``problems`` name each field at fault."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True, slots=True)
class Pending:
    """The spec entries that are not in the kernel as printed, so will be written."""

    routes: tuple[Route, ...] = ()
    fdbs: tuple[Fdb, ...] = ()
    arps: tuple[Arp, ...] = ()


def check_structure(spec: NodeConfigSpec, ref: ObjectRef) -> None:
    """Devices and iptables rules, always fully checked (there are few)."""
    shape = NodeConfigSpec.model_construct(devices=spec.devices, iptables=spec.iptables)
    _raise_errors(check_node_config_spec(shape, ref), spec, Pending())


def check_pending(spec: NodeConfigSpec, pending: Pending, ref: ObjectRef) -> None:
    if not (pending.routes or pending.fdbs or pending.arps):
        return
    shape = NodeConfigSpec.model_construct(
        devices=spec.devices, routes=pending.routes, fdbs=pending.fdbs, arps=pending.arps
    )
    _raise_errors(check_node_config_spec(shape, ref), spec, pending)


def check_devices_known(
    spec: NodeConfigSpec, groups: Iterable[Rendered[Any]], ref: ObjectRef
) -> None:
    """Entries must sit on one of the spec's devices: the agent manages no other."""
    names = {device.name for device in spec.devices}
    problems: list[Problem] = []
    for kind, rendered in zip(("routes", "fdbs", "arps"), groups, strict=True):
        for dev in rendered.by_dev.keys() - names:
            index = next(i for i, entry in enumerate(rendered.source) if entry.dev == dev)
            message = f"device {dev!r} is not in spec.devices"
            problems.append(Problem(ref, f"spec.{kind}[{index}].dev", message))
    if problems:
        raise InvalidSpecError(problems)


def check_unique(
    spec: NodeConfigSpec, ref: ObjectRef, *, routes: bool = True, arps: bool = True
) -> None:
    """Two routes for one destination, or two neighbour entries for one address, that
    differ would overwrite each other in the kernel on every pass. Exact repeats are
    harmless. Destinations compare as written; ``routes``/``arps`` False skip a list."""
    problems: list[Problem] = []
    if routes:
        cidrs = [route.cidr for route in spec.routes]
        if len(set(cidrs)) != len(cidrs):
            problems += _conflicts(spec.routes, cidrs, "routes", "cidr", ref)
    if arps:
        addresses = [f"{arp.dev} {arp.ip}" for arp in spec.arps]
        if len(set(addresses)) != len(addresses):
            problems += _conflicts(spec.arps, addresses, "arps", "ip", ref)
    if problems:
        raise InvalidSpecError(problems)


def _conflicts(
    entries: Sequence[Route | Arp], keys: list[str], kind: str, field: str, ref: ObjectRef
) -> list[Problem]:
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for index, (entry, key) in enumerate(zip(entries, keys, strict=True)):
        seen = first.setdefault(key, index)
        if seen != index and entries[seen] != entry:
            message = f"conflicts with spec.{kind}[{seen}] (same {field}, different entry)"
            problems.append(Problem(ref, f"spec.{kind}[{index}].{field}", message))
    return problems


def _raise_errors(problems: list[Problem], spec: NodeConfigSpec, pending: Pending) -> None:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InvalidSpecError([_in_spec(p, spec, pending) for p in errors])


def _in_spec(problem: Problem, spec: NodeConfigSpec, pending: Pending) -> Problem:
    """The problem with the entry's index in ``spec`` instead of in ``pending``."""
    match = _INDEX.match(problem.field)
    if match is None:
        return problem
    kind, index = match.group(1), int(match.group(2))
    entry = getattr(pending, kind)[index]
    position = next(i for i, item in enumerate(getattr(spec, kind)) if item is entry)
    field = f"spec.{kind}[{position}]{problem.field[match.end() :]}"
    return Problem(problem.ref, field, problem.message, problem.severity)
