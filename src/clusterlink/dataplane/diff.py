"""Desired against actual for one kind of bulk entry: what to add, what to delete.

Pure. Both sides arrive as printed lines (the desired side maps each line to its spec
entry), so an unchanged table costs two set differences. Only the lines on one side but not
the other are turned into canonical entries; an entry that is only printed differently from
the spec's spelling appears on both sides and cancels out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Set
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Entry(Hashable, Protocol):
    @property
    def slot(self) -> Hashable: ...


S = TypeVar("S")
E = TypeVar("E", bound=Entry)


@dataclass(frozen=True, slots=True)
class LineDiff(Generic[S]):
    """Spec entries not printed by the kernel, and printed lines the spec does not have."""

    missing: tuple[S, ...] = ()
    extra: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntryDiff(Generic[E]):
    add: tuple[E, ...] = ()
    delete: tuple[E, ...] = ()


def compare_lines(desired: Mapping[str, S], actual: Set[str]) -> LineDiff[S]:
    missing = desired.keys() - actual
    extra = actual - desired.keys()
    if not missing and not extra:
        return LineDiff()
    return LineDiff(tuple(desired[line] for line in sorted(missing)), tuple(sorted(extra)))


def reconcile(
    lines: LineDiff[S],
    to_entry: Callable[[S], E],
    parse: Callable[[str], E | None],
    *,
    replaces_slot: bool,
) -> EntryDiff[E]:
    """Entries to add and delete, once both sides of a line difference are parsed.

    With ``replaces_slot`` the add command overwrites an existing entry of the same slot
    (``ip route replace``, ``ip neigh replace``), so such an entry is not deleted: it is
    changed in place, without a moment where neither exists. Lines that cannot be parsed
    are left alone.
    """
    wanted: dict[E, None] = dict.fromkeys(map(to_entry, lines.missing))
    stale: list[E] = []
    for line in lines.extra:
        entry = parse(line)
        if entry is None:
            continue
        if entry in wanted:
            del wanted[entry]
        else:
            stale.append(entry)
    add = tuple(wanted)
    if replaces_slot:
        overwritten = {entry.slot for entry in add}
        stale = [entry for entry in stale if entry.slot not in overwritten]
    return EntryDiff(add, tuple(stale))
