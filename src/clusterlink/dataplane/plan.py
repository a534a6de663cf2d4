"""From desired spec and actual state to an ordered plan of kernel changes. Pure.

The plan is a sequence of stages; the steps of one stage are independent (their batches run
side by side), and a stage starts when the previous one is done. The order keeps traffic flowing:

1. forwarding on; devices created, re-created or changed in place;
2. settings of our devices (they exist now); 3. device addresses (new before old go);
4. iptables chains (NAT, FORWARD accepts, MSS clamping) before any route leads into them;
5. neighbours and FDB entries, so that 6. routes (replaced in place, not deleted and added)
   and the table-200 rules find a working next hop;
7. only then stale routes, neighbours, FDB entries, rules and devices are removed.

Every change carries the device it needs, so the executor can skip (and report) the
changes of a device whose creation failed without stopping the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from clusterlink.api import constants as c
from clusterlink.api.errors import ObjectRef
from clusterlink.api.models import Arp, Fdb, NodeConfigSpec, Route
from clusterlink.dataplane import entries as e
from clusterlink.dataplane import iptables as ipt
from clusterlink.dataplane.checks import (
    Pending,
    check_devices_known,
    check_pending,
    check_structure,
    check_unique,
)
from clusterlink.dataplane.devices import DeviceCommand, plan_devices
from clusterlink.dataplane.diff import LineDiff, compare_lines, reconcile
from clusterlink.dataplane.render import Rendered, render
from clusterlink.dataplane.state import ActualState, Tables
from clusterlink.dataplane.sysctl import Setting, settings_to_write, wanted_settings

ChangeKind = Literal["link", "address", "sysctl", "iptables", "neighbour", "fdb", "route", "rule"]


@dataclass(frozen=True, slots=True)
class Change:
    """One change to the kernel, described in iproute2/iptables words."""

    kind: ChangeKind
    action: str  # create, recreate, update, replace, delete, set
    subject: str
    device: str | None = None

    def __str__(self) -> str:
        return f"{self.action} {self.subject}"


@dataclass(frozen=True, slots=True)
class Failure:
    change: Change
    message: str

    def __str__(self) -> str:
        return f"{self.change}: {self.message}"


@dataclass(frozen=True, slots=True)
class Batch:
    """Lines for ``ip -batch`` or ``bridge -batch``; ``changes[i]`` is what line i does."""

    tool: Literal["ip", "bridge"]
    options: tuple[str, ...]
    commands: tuple[str, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class SysctlWrites:
    settings: tuple[Setting, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class IptablesRestore:
    tools: ipt.Tools
    script: ipt.TableScript
    changes: tuple[Change, ...]


Step = Batch | SysctlWrites | IptablesRestore


@dataclass(frozen=True, slots=True)
class Plan:
    stages: tuple[tuple[Step, ...], ...]
    blocked: tuple[Failure, ...]
    rendered: RenderedSpec
    # What the owned state reads as once every change succeeded (links aside).
    settled: ActualState

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(change for stage in self.stages for step in stage for change in step.changes)


@dataclass(frozen=True, slots=True)
class RenderedSpec:
    """The spec's bulk entries as printed lines, reusable by the next pass."""

    routes: Rendered[Route]
    fdbs: Rendered[Fdb]
    arps: Rendered[Arp]


def render_spec(spec: NodeConfigSpec, previous: RenderedSpec | None = None) -> RenderedSpec:
    return RenderedSpec(
        render(spec.routes, e.route_show_line, previous.routes if previous else None),
        render(spec.fdbs, e.fdb_show_line, previous.fdbs if previous else None),
        render(spec.arps, e.neigh_show_line, previous.arps if previous else None),
    )


def make_plan(
    desired: NodeConfigSpec,
    actual: ActualState,
    tools: Mapping[int, ipt.Tools],
    ref: ObjectRef,
    rendered: RenderedSpec | None = None,
) -> Plan:
    """The changes that turn ``actual`` into ``desired``; raises InvalidSpecError first."""
    check_structure(desired, ref)
    previous, rendered = rendered, render_spec(desired, rendered)
    check_devices_known(desired, (rendered.routes, rendered.fdbs, rendered.arps), ref)
    # Entries rendered by an earlier pass were checked by it.
    check_unique(
        desired,
        ref,
        routes=previous is None or rendered.routes is not previous.routes,
        arps=previous is None or rendered.arps is not previous.arps,
    )
    devices = plan_devices(desired.devices, actual.links)
    blocked_names = {b.device for b in devices.blocked}
    blocked = [
        Failure(Change("link", b.action, b.subject, b.device), b.reason) for b in devices.blocked
    ]
    usable = frozenset(d.name for d in desired.devices) - blocked_names

    routes = _route_lines(rendered.routes, actual.tables, usable, devices.vanishing | blocked_names)
    fdbs = _device_lines(rendered.fdbs, actual.tables.fdb, usable, devices.fresh)
    arps = _device_lines(rendered.arps, actual.tables.neigh, usable, devices.fresh)
    pending = Pending(
        routes=tuple(r for diff in routes.diffs.values() for r in diff.missing),
        fdbs=tuple(f for diff in fdbs.diffs.values() for f in diff.missing),
        arps=tuple(a for diff in arps.diffs.values() for a in diff.missing),
    )
    check_pending(desired, pending, ref)

    entries = _entry_changes(routes, fdbs, arps)
    settings = settings_to_write(wanted_settings(desired), actual.sysctls, devices.fresh)
    iptables_steps, iptables_after = _iptables_steps(desired, actual, tools, devices.mtus, blocked)
    families = {c.DEVICE_FAMILY[d.name] for d in desired.devices}
    rule_add = [f for f in (4, 6) if f in families and actual.rules.get(f, 0) == 0]
    rule_del = {f: max(0, n - (1 if f in families else 0)) for f, n in actual.rules.items()}
    stages: list[tuple[Step, ...]] = [
        _stage(
            _sysctl_step(tuple(s for s in settings if s.device is None)),
            _device_batch(devices.links),
        ),
        _stage(
            _sysctl_step(tuple(s for s in settings if s.device and s.device not in blocked_names))
        ),
        _stage(_device_batch(devices.addresses)),
        tuple(iptables_steps),
        _stage(
            _entry_batch("ip", "neighbour", "replace", entries.neigh_add),
            _entry_batch("bridge", "fdb", "create", entries.fdb_add),
        ),
        _stage(
            _batch(
                "ip",
                (),
                [(r.add_command(), _entry_change("route", "replace", r)) for r in entries.route_add]
                + [(_RULE_ADD, _rule_change("create", 4))] * (4 in rule_add),
            ),
            _batch("ip", ("-6",), [(_RULE_ADD, _rule_change("create", 6))] * (6 in rule_add)),
        ),
        _stage(
            _batch(
                "ip",
                (),
                [
                    (r.delete_command(), _entry_change("route", "delete", r))
                    for r in entries.route_del
                ]
                + [
                    (n.delete_command(), _entry_change("neighbour", "delete", n))
                    for n in entries.neigh_del
                ]
                + [(_RULE_DEL, _rule_change("delete", 4))] * rule_del.get(4, 0)
                + [
                    (d.command, Change("link", d.action, d.subject, d.device))
                    for d in devices.removals
                ],
            ),
            _batch("ip", ("-6",), [(_RULE_DEL, _rule_change("delete", 6))] * rule_del.get(6, 0)),
            _entry_batch("bridge", "fdb", "delete", entries.fdb_del),
        ),
    ]
    settled = ActualState(
        links=actual.links,
        rules={family: int(family in families) for family in (4, 6)},
        tables=Tables(routes=routes.desired, fdb=fdbs.desired, neigh=arps.desired),
        sysctls={**actual.sysctls, **{s.key: s.value for s in wanted_settings(desired)}},
        iptables=iptables_after,
        backend=actual.backend,
    )
    return Plan(
        stages=tuple(stage for stage in stages if stage),
        blocked=tuple(blocked),
        rendered=rendered,
        settled=settled,
    )


_RULE_ADD = f"rule add from all lookup {c.ROUTE_TABLE} pref {c.RULE_PRIORITY}"
_RULE_DEL = f"rule del from all lookup {c.ROUTE_TABLE} pref {c.RULE_PRIORITY}"

Spec = TypeVar("Spec", Route, Fdb, Arp)
Parsed = TypeVar("Parsed", e.FdbEntry, e.NeighEntry)


@dataclass(frozen=True, slots=True)
class _Lines(Generic[Spec]):
    """Line differences per dump (per family for routes, per device for FDB/neighbours)."""

    diffs: Mapping[Any, LineDiff[Spec]]
    desired: dict[Any, Set[str]]
    untouchable: frozenset[str] = frozenset()


def _route_lines(
    rendered: Rendered[Route],
    tables: Tables,
    usable: frozenset[str],
    untouchable: Iterable[str],
) -> _Lines[Route]:
    """Table 200 per family. Routes through a device about to be re-created or removed
    vanish with it; those of a device that cannot be made are left as they are."""
    skip = frozenset(untouchable)
    marks = [f" dev {name} " for name in skip]
    diffs: dict[int, LineDiff[Route]] = {}
    desired: dict[int, Set[str]] = {}
    for family in (4, 6):
        groups = [
            rendered.by_dev[name]
            for name in c.DEVICE_NAMES
            if name in usable and name in rendered.by_dev and c.DEVICE_FAMILY[name] == family
        ]
        wanted: Mapping[str, Route] = groups[0] if len(groups) == 1 else _merged(groups)
        actual = tables.routes.get(family, frozenset())
        if marks:
            actual = frozenset(line for line in actual if not any(m in line for m in marks))
        diffs[family] = compare_lines(wanted, actual)
        desired[family] = wanted.keys()
    return _Lines(diffs, desired, skip)


def _merged(groups: list[Mapping[str, Route]]) -> dict[str, Route]:
    merged: dict[str, Route] = {}
    for group in groups:
        merged.update(group)
    return merged


def _device_lines(
    rendered: Rendered[Spec],
    actual: Mapping[str, Set[str]],
    usable: frozenset[str],
    fresh: frozenset[str],
) -> _Lines[Spec]:
    """FDB or neighbour entries, dumped per device. Only the spec's devices that can be
    made are compared: entries of a device being removed go with it, and those of a
    device that cannot be made are left as they are."""
    diffs: dict[str, LineDiff[Spec]] = {}
    desired: dict[str, Set[str]] = {}
    for name in c.DEVICE_NAMES:
        if name in usable:
            wanted = rendered.by_dev.get(name, {})
            current = frozenset() if name in fresh else actual.get(name, frozenset())
            diffs[name] = compare_lines(wanted, current)
            desired[name] = wanted.keys()
    return _Lines(diffs, desired)


@dataclass(frozen=True, slots=True)
class _EntryChanges:
    route_add: list[e.RouteEntry]
    route_del: list[e.RouteEntry]
    fdb_add: list[e.FdbEntry]
    fdb_del: list[e.FdbEntry]
    neigh_add: list[e.NeighEntry]
    neigh_del: list[e.NeighEntry]


def _entry_changes(routes: _Lines[Route], fdbs: _Lines[Fdb], arps: _Lines[Arp]) -> _EntryChanges:
    """Parse both sides of each line difference into entries to add and delete."""
    found = _EntryChanges([], [], [], [], [], [])
    for family, route_lines in routes.diffs.items():
        diff = reconcile(route_lines, e.route_entry, _route_parser(family), replaces_slot=True)
        found.route_add.extend(diff.add)
        found.route_del.extend(r for r in diff.delete if r.dev not in routes.untouchable)
    for name, fdb_lines in fdbs.diffs.items():
        parse_fdb = _device_parser(e.parse_fdb_line, name)
        fdb_diff = reconcile(fdb_lines, e.fdb_entry, parse_fdb, replaces_slot=False)
        found.fdb_add.extend(fdb_diff.add)
        found.fdb_del.extend(fdb_diff.delete)
    for name, arp_lines in arps.diffs.items():
        parse_neigh = _device_parser(e.parse_neigh_line, name)
        neigh_diff = reconcile(arp_lines, e.neigh_entry, parse_neigh, replaces_slot=True)
        found.neigh_add.extend(neigh_diff.add)
        found.neigh_del.extend(neigh_diff.delete)
    return found


def _route_parser(family: int) -> Callable[[str], e.RouteEntry | None]:
    return lambda line: e.parse_route_line(line, family)


def _device_parser(
    parse: Callable[[str, str], Parsed | None], name: str
) -> Callable[[str], Parsed | None]:
    return lambda line: parse(line, name)


def _iptables_steps(
    desired: NodeConfigSpec,
    actual: ActualState,
    tools: Mapping[int, ipt.Tools],
    mtus: Mapping[str, int],
    blocked: list[Failure],
) -> tuple[list[IptablesRestore], dict[int, ipt.FamilyState]]:
    steps: list[IptablesRestore] = []
    after: dict[int, ipt.FamilyState] = {}
    for family in (4, 6):
        chains = ipt.desired_chains(family, desired, mtus)
        after[family] = ipt.converged_state(chains)
        state = actual.iptables[family]
        if state.error:
            if chains:
                change = Change("iptables", "update", f"IPv{family} chains")
                blocked.append(Failure(change, f"cannot read the rules: {state.error}"))
            continue
        for script in ipt.table_scripts(family, state, chains):
            changes = tuple(Change("iptables", edit.action, edit.text) for edit in script.edits)
            steps.append(IptablesRestore(tools[family], script, changes))
    return steps, after


def _stage(*steps: Step | None) -> tuple[Step, ...]:
    return tuple(step for step in steps if step is not None)


def _batch(
    tool: Literal["ip", "bridge"], options: tuple[str, ...], lines: list[tuple[str, Change]]
) -> Batch | None:
    if not lines:
        return None
    return Batch(tool, options, tuple(line for line, _ in lines), tuple(ch for _, ch in lines))


def _device_batch(commands: Iterable[DeviceCommand]) -> Batch | None:
    kinds: dict[bool, ChangeKind] = {True: "address", False: "link"}
    return _batch(
        "ip",
        (),
        [
            (d.command, Change(kinds[d.command.startswith("addr")], d.action, d.subject, d.device))
            for d in commands
        ],
    )


def _entry_batch(
    tool: Literal["ip", "bridge"],
    kind: ChangeKind,
    action: str,
    found: Iterable[e.FdbEntry | e.NeighEntry],
) -> Batch | None:
    lines = [
        (
            entry.add_command() if action != "delete" else entry.delete_command(),
            Change(kind, action, entry.describe(), entry.dev),
        )
        for entry in found
    ]
    return _batch(tool, (), lines)


def _entry_change(kind: ChangeKind, action: str, route: e.RouteEntry | e.NeighEntry) -> Change:
    device = route.dev if route.dev in c.DEVICE_FAMILY else None
    return Change(kind, action, route.describe(), device)


def _rule_change(action: str, family: int) -> Change:
    subject = f"rule from all lookup {c.ROUTE_TABLE} pref {c.RULE_PRIORITY} (IPv{family})"
    return Change("rule", action, subject)


def _sysctl_step(settings: tuple[Setting, ...]) -> SysctlWrites | None:
    if not settings:
        return None
    changes = tuple(
        Change("sysctl", "set", f"{s.key.replace('/', '.')} = {s.value}", s.device)
        for s in settings
    )
    return SysctlWrites(settings, changes)
