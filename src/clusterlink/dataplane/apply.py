"""Carrying out a plan: stage by stage, every entry attempted, every failure attributed.

Bulk entries go through ``ip -batch -`` / ``bridge -batch -`` with ``-force``, which keeps
going after a refused line and names it (``Command failed -:N``) after the kernel's message,
so each failure is reported with its entry and one bad entry costs only itself. A device
whose creation failed takes down only the changes that need it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from clusterlink.dataplane import iptables as ipt
from clusterlink.dataplane.netns import CommandResult, Namespace, run, run_all
from clusterlink.dataplane.plan import Batch, Change, Failure, IptablesRestore, Plan, SysctlWrites
from clusterlink.dataplane.state import PROC_SYS

_FAILED_LINE = re.compile(r"^Command failed (?:-|\S+):(\d+)\s*$")


@dataclass
class Outcome:
    """What happened so far: applied changes and failures, in order."""

    applied: list[Change] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    broken_devices: set[str] = field(default_factory=set)

    def record(self, changes: Sequence[Change], errors: dict[int, str]) -> None:
        for index, change in enumerate(changes):
            if index in errors:
                self.failures.append(Failure(change, errors[index]))
                if change.kind == "link" and change.action in ("create", "recreate"):
                    self.broken_devices.add(change.device or "")
            else:
                self.applied.append(change)


def execute(plan: Plan, ns: Namespace) -> Outcome:
    outcome = Outcome(failures=list(plan.blocked))
    for stage in plan.stages:
        batches: list[Batch] = []
        for step in stage:
            runnable = _without_broken(step, outcome)
            if isinstance(runnable, Batch):
                batches.append(runnable)
            elif isinstance(runnable, SysctlWrites):
                _write_sysctls(runnable, ns, outcome)
            elif isinstance(runnable, IptablesRestore):
                _restore(runnable, ns, outcome)
        _run_batches(batches, ns, outcome)
    return outcome


def _without_broken(
    step: Batch | SysctlWrites | IptablesRestore, outcome: Outcome
) -> Batch | SysctlWrites | IptablesRestore | None:
    """The step minus changes needing a device that could not be made (those fail)."""
    if not isinstance(step, Batch | SysctlWrites) or not outcome.broken_devices:
        return step
    keep = [i for i, ch in enumerate(step.changes) if ch.device not in outcome.broken_devices]
    for change in step.changes:
        if change.device in outcome.broken_devices:
            reason = f"not attempted: device {change.device} could not be set up"
            outcome.failures.append(Failure(change, reason))
    if not keep:
        return None
    changes = tuple(step.changes[i] for i in keep)
    if isinstance(step, Batch):
        return Batch(step.tool, step.options, tuple(step.commands[i] for i in keep), changes)
    return SysctlWrites(tuple(step.settings[i] for i in keep), changes)


def _run_batches(batches: list[Batch], ns: Namespace, outcome: Outcome) -> None:
    if not batches:
        return
    argvs = [
        (ns.ip if b.tool == "ip" else ns.bridge)(*b.options, "-force", "-batch", "-")
        for b in batches
    ]
    inputs: list[str | None] = ["\n".join(b.commands) + "\n" for b in batches]
    for batch, result in zip(batches, run_all(argvs, inputs), strict=True):
        outcome.record(batch.changes, batch_errors(result, len(batch.commands)))


def batch_errors(result: CommandResult, count: int) -> dict[int, str]:
    """Per-line errors of a ``-force -batch`` run, keyed by 0-based line index.

    The tool prints the kernel's message, then ``Command failed -:N``. When it failed
    without naming a line (not installed, namespace gone), every line failed.
    """
    errors: dict[int, str] = {}
    pending: list[str] = []
    for line in result.stderr.splitlines():
        match = _FAILED_LINE.match(line.strip())
        if match:
            errors[int(match.group(1)) - 1] = " ".join(pending) or "failed"
            pending = []
        elif line.strip():
            pending.append(line.strip())
    if not result.ok and not errors:
        message = result.stderr.strip() or f"exit code {result.returncode}"
        return dict.fromkeys(range(count), message)
    return errors


def _write_sysctls(step: SysctlWrites, ns: Namespace, outcome: Outcome) -> None:
    writes = [f"{s.key}={s.value}" for s in step.settings]
    result = run(ns.exec("sysctl", "-q", "-w", *writes))
    errors: dict[int, str] = {}
    for index, setting in enumerate(step.settings):
        mentions = [
            line.strip()
            for line in result.stderr.splitlines()
            if PROC_SYS + setting.key in line or setting.key.replace("/", ".") in line
        ]
        if mentions:
            errors[index] = " ".join(mentions)
    if not result.ok and not errors:
        errors = dict.fromkeys(range(len(step.settings)), result.stderr.strip())
    outcome.record(step.changes, errors)


def _restore(step: IptablesRestore, ns: Namespace, outcome: Outcome) -> None:
    """Apply one table's input; if refused, apply it without the spec's rules, then each rule.

    That way the chains, hooks, FORWARD accepts and MSS clamping still converge, and each
    refused rule is reported with iptables' message.
    """
    restore = ns.exec(step.tools.restore, "--noflush", "-w", "5")
    result = run(restore, step.script.script)
    if result.ok:
        outcome.applied.extend(step.changes)
        return
    skeleton = run(restore, step.script.skeleton)
    if not skeleton.ok:
        message = _restore_message(skeleton)
        outcome.failures.extend(Failure(change, message) for change in step.changes)
        return
    refused: dict[tuple[str, str], str] = {}
    for chain, rule in step.script.spec_rules:
        one = run(restore, ipt.rule_script(step.script.table, chain, rule))
        if not one.ok:
            refused[(chain, rule)] = _restore_message(one)
    errors: dict[int, str] = {}
    for index, edit in enumerate(step.script.edits):
        if edit.spec_rule is not None and edit.spec_rule in refused:
            errors[index] = refused.pop(edit.spec_rule)
    outcome.record(step.changes, errors)
    # A rule that was already in place and is refused now (it was flushed with its chain).
    cmd = "iptables" if step.script.family == 4 else "ip6tables"
    for (chain, rule), message in refused.items():
        change = Change("iptables", "create", f"{cmd} -t {step.script.table} -A {chain} {rule}")
        outcome.failures.append(Failure(change, message))


def _restore_message(result: CommandResult) -> str:
    lines = [
        line.strip()
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("Try `")
    ]
    return " ".join(lines) or f"exit code {result.returncode}"
