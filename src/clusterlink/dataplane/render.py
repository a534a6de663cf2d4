"""The spec's bulk entries as the lines iproute2 prints, grouped by device, kept across passes.

Rendering 40,000 entries costs more than the whole diff. Specs are immutable and an updated
spec shares the entries that did not change, so a pass renders only the entries that are
not the very objects it rendered last time; anything else (a shifted list, duplicate
entries) is rendered again from scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class OnDevice(Protocol):
    @property
    def dev(self) -> str: ...


S = TypeVar("S", bound=OnDevice)

# Above this share of changed entries a full rendering is as cheap as patching.
_PATCH_LIMIT = 8


@dataclass(frozen=True, slots=True)
class Rendered(Generic[S]):
    """``lines[i]`` is ``source[i]`` printed; ``by_dev`` maps each line to its entry.

    The mappings are never modified once built, so they can be shared by later passes.
    """

    source: tuple[S, ...]
    lines: tuple[str, ...]
    by_dev: Mapping[str, Mapping[str, S]]
    distinct: bool  # no two entries print the same line


def render(
    entries: tuple[S, ...], show: Callable[[S], str], previous: Rendered[S] | None = None
) -> Rendered[S]:
    if previous is not None and previous.source is entries:
        return previous
    if previous is not None and previous.distinct and len(previous.source) == len(entries):
        pairs = enumerate(zip(previous.source, entries, strict=True))
        changed = [i for i, (old, new) in pairs if old is not new]
        if len(changed) * _PATCH_LIMIT <= len(entries):
            patched = _patch(previous, entries, changed, show)
            if patched is not None:
                return patched
    lines = tuple(map(show, entries))
    by_dev: dict[str, dict[str, S]] = {}
    for line, entry in zip(lines, entries, strict=True):
        group = by_dev.get(entry.dev)
        if group is None:
            group = by_dev[entry.dev] = {}
        group[line] = entry
    distinct = sum(map(len, by_dev.values())) == len(entries)
    return Rendered(entries, lines, by_dev, distinct)


def _patch(
    previous: Rendered[S], entries: tuple[S, ...], changed: list[int], show: Callable[[S], str]
) -> Rendered[S] | None:
    lines = list(previous.lines)
    groups: dict[str, dict[str, S]] = {}

    def group(dev: str) -> dict[str, S]:
        if dev not in groups:
            groups[dev] = dict(previous.by_dev.get(dev, {}))
        return groups[dev]

    for i in changed:
        del group(previous.source[i].dev)[lines[i]]
    for i in changed:
        lines[i] = show(entries[i])
        target = group(entries[i].dev)
        if lines[i] in target:
            return None  # now two entries print the same line
        target[lines[i]] = entries[i]
    by_dev = {**previous.by_dev, **groups}
    return Rendered(entries, tuple(lines), {d: g for d, g in by_dev.items() if g}, True)
