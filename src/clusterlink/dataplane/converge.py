"""One converge pass: check, read, diff, apply, report. The agent runs exactly this.

A pass never tears anything down to start over: it changes only what differs, so an agent
restarted with the same spec changes nothing. Its result says what was applied, what failed
and why, and, after a fully successful pass, carries a ``Baseline``: the owned state as the
pass left it, and the spec as printed. Handing that baseline to the next pass (the
long-running agent does so when its NodeConfig changes) spares it every dump but the links:
only the difference between the two specs is computed and applied. The baseline's state is
ignored when one of our devices is no longer the one the pass left (its interface index
changed); the periodic resync passes ``baseline.for_resync()``, reads everything and repairs
any drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from clusterlink.api import constants as c
from clusterlink.api.errors import ObjectRef
from clusterlink.api.models import NodeConfigSpec
from clusterlink.dataplane import iptables as ipt
from clusterlink.dataplane.apply import execute
from clusterlink.dataplane.checks import InvalidSpecError
from clusterlink.dataplane.netns import Namespace
from clusterlink.dataplane.plan import Change, Failure, RenderedSpec, make_plan
from clusterlink.dataplane.state import ActualState, Link, read_actual, read_links
from clusterlink.dataplane.sysctl import wanted_settings

__all__ = ["Baseline", "ConvergeResult", "InvalidSpecError", "converge"]


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a successful pass left: the owned state as it then read (``settled``, None
    once dropped for a resync) and the spec's entries as printed (reusable by any pass)."""

    settled: ActualState | None
    rendered: RenderedSpec

    def for_resync(self) -> Baseline:
        """The same without the settled state: the pass reads everything, repairing drift."""
        return replace(self, settled=None)


@dataclass(frozen=True, slots=True)
class ConvergeResult:
    """``applied`` holds the changes made (with ``dry_run``, the changes that would be)."""

    applied: tuple[Change, ...]
    failed: tuple[Failure, ...]
    dry_run: bool = False
    baseline: Baseline | None = None

    @property
    def converged(self) -> bool:
        """Nothing failed and, for a dry run, nothing was left to do."""
        return not self.failed and not (self.dry_run and self.applied)


def converge(
    desired: NodeConfigSpec,
    netns: str | None,
    dry_run: bool = False,
    baseline: Baseline | None = None,
    *,
    ref: ObjectRef | None = None,
) -> ConvergeResult:
    """Make the host (``netns`` None) or the named namespace match ``desired``.

    Raises :class:`InvalidSpecError` (naming each field) before anything is changed when
    the spec must not be applied, and ``NamespaceError`` when the namespace is missing.
    """
    ns = Namespace(netns)
    ref = ref or ObjectRef("NodeConfig", netns or "host")
    keys = [setting.key for setting in wanted_settings(desired)]
    names = [device.name for device in desired.devices]
    actual = _trusted(ns, baseline) or read_actual(ns, keys, devices=names)
    tools = {family: ipt.tools(actual.backend, family) for family in (4, 6)}
    rendered = baseline.rendered if baseline is not None else None
    plan = make_plan(desired, actual, tools, ref, rendered)
    if dry_run:
        return ConvergeResult(plan.changes, plan.blocked, dry_run=True)
    outcome = execute(plan, ns)
    next_baseline = None
    if not outcome.failures:
        settled = plan.settled
        if any(change.kind == "link" for change in outcome.applied):
            settled = replace(settled, links=read_links(ns))
        next_baseline = Baseline(settled, plan.rendered)
    return ConvergeResult(tuple(outcome.applied), tuple(outcome.failures), False, next_baseline)


def _trusted(ns: Namespace, baseline: Baseline | None) -> ActualState | None:
    """The baseline's settled state with the links read now, if our devices are still the
    ones it left (same interface indexes); otherwise None and everything is read."""
    if baseline is None or baseline.settled is None:
        return None
    links = read_links(ns)
    if _device_indexes(links) != _device_indexes(baseline.settled.links):
        return None
    return replace(baseline.settled, links=links)


def _device_indexes(links: Mapping[str, Link]) -> tuple[tuple[str, int], ...]:
    return tuple((name, links[name].index) for name in c.DEVICE_NAMES if name in links)
