"""The agent's iptables state: its own chains, each jumped to from one built-in chain.

* ``nat``: ``CLUSTERLINK-PREROUTING`` and ``CLUSTERLINK-POSTROUTING`` hold the spec's rules
  (upstream names, so upstream NodeConfigs keep working), jumped to first; they exist only
  while the spec has rules for them;
* ``filter``: ``CLUSTERLINK-FORWARD`` accepts traffic in and out of our devices. Upstream
  inserts ``-o <dev> -j ACCEPT`` first in FORWARD, also for the bound NIC, which lets that
  traffic skip the CNI's NetworkPolicy chains. Our jump is appended instead: the CNI's
  chains decide first, and our accepts only keep a DROP policy (Docker's) from dropping
  tunnel traffic nobody else accepted;
* ``mangle``: ``CLUSTERLINK-MSS`` clamps the MSS of TCP SYNs through our devices, so TCP
  still works when the "fragmentation needed" ICMP of a smaller tunnel MTU is dropped;
  jumped to first from FORWARD (forwarded pod traffic; the host's own sockets already use
  the route MTU).

Chains are written whole with ``iptables-restore --noflush``: declaring an existing chain in
the input flushes it, so the new content replaces the old one in one transaction and the
CNI's chains are never touched. Only a chain whose content differs is written. The backend
(nf_tables or legacy) is the one the host's ``iptables`` command uses.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from clusterlink.api import constants as c
from clusterlink.api.models import NodeConfigSpec

Backend = Literal["nf_tables", "legacy"]

CHAIN_FORWARD = "CLUSTERLINK-FORWARD"
CHAIN_MSS = "CLUSTERLINK-MSS"
# TCP header + IP header: the MSS that fills a device MTU.
_TCP_IP_HEADERS = {4: 40, 6: 60}
_SYN = "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS"


@dataclass(frozen=True, slots=True)
class OwnedChain:
    table: str
    chain: str
    hook: str  # the built-in chain that jumps to it
    first: bool = True  # the jump must be the hook's first rule; else anywhere, appended


OWNED_CHAINS = (
    OwnedChain("nat", c.CHAIN_PREROUTING, "PREROUTING"),
    OwnedChain("nat", c.CHAIN_POSTROUTING, "POSTROUTING"),
    OwnedChain("filter", CHAIN_FORWARD, "FORWARD", first=False),
    OwnedChain("mangle", CHAIN_MSS, "FORWARD"),
)
TABLES = ("nat", "filter", "mangle")
SPEC_CHAINS = {"PREROUTING": c.CHAIN_PREROUTING, "POSTROUTING": c.CHAIN_POSTROUTING}


@dataclass(frozen=True, slots=True)
class Tools:
    """The iptables programs of one backend and family."""

    backend: Backend
    save: str
    restore: str


def detect_backend() -> Backend:
    """The backend of the ``iptables`` command, from its alternative's target (no process)."""
    path = shutil.which("iptables")
    target = os.path.basename(os.path.realpath(path)) if path else ""
    return "legacy" if "legacy" in target else "nf_tables"


def tools(backend: Backend, family: int) -> Tools:
    """Backend-specific programs when installed (``iptables-nft-restore``), else the defaults."""
    base = "iptables" if family == 4 else "ip6tables"
    suffix = "nft" if backend == "nf_tables" else "legacy"
    save, restore = f"{base}-{suffix}-save", f"{base}-{suffix}-restore"
    if shutil.which(save) is None or shutil.which(restore) is None:
        save, restore = f"{base}-save", f"{base}-restore"
    return Tools(backend, save, restore)


@dataclass(frozen=True, slots=True)
class TableState:
    """Chains of one table and their rules in ``-S`` form, without ``-A <chain>``."""

    chains: frozenset[str] = frozenset()
    rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FamilyState:
    """What ``iptables-save`` shows for one family; ``error`` set when it could not be read."""

    tables: Mapping[str, TableState] = field(default_factory=dict)
    error: str = ""

    def table(self, name: str) -> TableState:
        return self.tables.get(name, TableState())


def parse_save(text: str) -> FamilyState:
    """The nat, filter and mangle tables of ``iptables-save`` output."""
    tables: dict[str, TableState] = {}
    current: str | None = None
    chains: set[str] = set()
    rules: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            current, chains, rules = line[1:].strip(), set(), {}
        elif current not in TABLES:
            continue
        elif line.startswith(":"):
            chains.add(line[1:].split()[0])
        elif line.startswith("-A "):
            _, chain, *rest = line.split(" ", 2)
            rules.setdefault(chain, []).append(" ".join(rest))
        elif line.strip() == "COMMIT" and current is not None:
            frozen = {chain: tuple(entries) for chain, entries in rules.items()}
            tables[current] = TableState(frozenset(chains), frozen)
            current = None
    return FamilyState(tables)


def rule_family(rule: str) -> int:
    """Upstream's rule: a rule mentioning an IPv6 address (a colon) is an ip6tables rule."""
    return 6 if ":" in rule else 4


def normalize_rule(rule: str) -> str:
    return " ".join(rule.split())


def desired_chains(
    family: int, spec: NodeConfigSpec, mtus: Mapping[str, int]
) -> dict[OwnedChain, tuple[str, ...]]:
    """Content of each owned chain for one family; empty when the family is not in use.

    A nat chain exists only while it has rules: a nat hook turns connection tracking on for
    every packet the node forwards, which costs measurable throughput (BENCHMARKS.md
    section 3) on a node that has nothing to translate.

    ``mtus`` holds the MTU each device will have; a device missing from it gets no
    inbound MSS rule.
    """
    devices = [d.name for d in spec.devices if c.DEVICE_FAMILY.get(d.name) == family]
    spec_rules = [r for r in spec.iptables if rule_family(r.rule) == family]
    if not devices and not spec_rules:
        return {}
    by_chain: dict[str, list[str]] = {chain: [] for chain in SPEC_CHAINS.values()}
    for rule in spec_rules:
        by_chain[SPEC_CHAINS.get(rule.chain, c.CHAIN_POSTROUTING)].append(normalize_rule(rule.rule))
    by_chain[CHAIN_FORWARD] = [
        rule for name in devices for rule in (f"-i {name} -j ACCEPT", f"-o {name} -j ACCEPT")
    ]
    mss: list[str] = []
    for name in devices:
        mss.append(f"-o {name} {_SYN} --clamp-mss-to-pmtu")
        if name in mtus:
            mss.append(f"-i {name} {_SYN} --set-mss {mtus[name] - _TCP_IP_HEADERS[family]}")
    by_chain[CHAIN_MSS] = mss
    return {
        owned: tuple(by_chain[owned.chain])
        for owned in OWNED_CHAINS
        if by_chain[owned.chain] or owned.table != "nat"
    }


@dataclass(frozen=True, slots=True)
class ChainEdit:
    """One change to one owned chain, in the words of the ``iptables`` command."""

    action: Literal["create", "delete", "update"]
    text: str
    spec_rule: tuple[str, str] | None = None  # (chain, rule) of a spec rule appended


@dataclass(frozen=True, slots=True)
class TableScript:
    """The ``iptables-restore --noflush`` input converging one table, with its edits.

    ``skeleton`` is the same input without the spec's rules, and ``spec_rules`` those rules
    one by one, used to find which rule the kernel refused when the whole input fails.
    """

    family: int
    table: str
    script: str
    skeleton: str
    spec_rules: tuple[tuple[str, str], ...]  # (chain, rule)
    edits: tuple[ChainEdit, ...]


def table_scripts(
    family: int,
    actual: FamilyState,
    desired: Mapping[OwnedChain, tuple[str, ...]],
    spec_chains: Iterable[str] = tuple(SPEC_CHAINS.values()),
) -> list[TableScript]:
    """Restore inputs for the tables whose owned chains or hooks differ from ``desired``."""
    user_chains = frozenset(spec_chains)
    scripts: list[TableScript] = []
    for table in TABLES:
        state = actual.table(table)
        lines: list[str] = []
        skeleton: list[str] = []
        spec_rules: list[tuple[str, str]] = []
        edits: list[ChainEdit] = []
        cmd = f"{'iptables' if family == 4 else 'ip6tables'} -t {table}"
        for owned in (o for o in OWNED_CHAINS if o.table == table):
            jump = f"-j {owned.chain}"
            hooks = [i for i, rule in enumerate(state.rules.get(owned.hook, ())) if rule == jump]
            present = owned.chain in state.chains
            current = tuple(normalize_rule(r) for r in state.rules.get(owned.chain, ()))
            unhook = [f"-D {owned.hook} {jump}"] * len(hooks)
            if owned not in desired:
                if present or hooks:
                    drop = [*unhook, *([f":{owned.chain} - [0:0]", f"-X {owned.chain}"] * present)]
                    lines += drop
                    skeleton += drop
                    edits.append(ChainEdit("delete", f"{cmd} -X {owned.chain}"))
                continue
            wanted = desired[owned]
            if not present or current != wanted:
                declare = f":{owned.chain} - [0:0]"
                lines.append(declare)
                skeleton.append(declare)
                for rule in wanted:
                    lines.append(f"-A {owned.chain} {rule}")
                    if owned.chain in user_chains:
                        spec_rules.append((owned.chain, rule))
                    else:
                        skeleton.append(f"-A {owned.chain} {rule}")
                edits += _rule_edits(cmd, owned.chain, present, current, wanted)
            if hooks != [0] and (owned.first or len(hooks) != 1):
                insert = f"-I {owned.hook} 1 {jump}" if owned.first else f"-A {owned.hook} {jump}"
                lines += [*unhook, insert]
                skeleton += [*unhook, insert]
                edits.append(ChainEdit("create", f"{cmd} {insert}"))
        if lines:
            scripts.append(
                TableScript(
                    family,
                    table,
                    _wrap(table, lines),
                    _wrap(table, skeleton),
                    tuple(spec_rules),
                    tuple(edits),
                )
            )
    return scripts


def converged_state(desired: Mapping[OwnedChain, tuple[str, ...]]) -> FamilyState:
    """What ``parse_save`` would show of our chains once ``desired`` is in place."""
    chains: dict[str, set[str]] = {table: set() for table in TABLES}
    rules: dict[str, dict[str, tuple[str, ...]]] = {table: {} for table in TABLES}
    for owned, content in desired.items():
        chains[owned.table].add(owned.chain)
        rules[owned.table][owned.chain] = content
        rules[owned.table][owned.hook] = (f"-j {owned.chain}",)
    return FamilyState(
        {table: TableState(frozenset(chains[table]), rules[table]) for table in TABLES}
    )


def rule_script(table: str, chain: str, rule: str) -> str:
    return _wrap(table, [f"-A {chain} {rule}"])


def _wrap(table: str, lines: Sequence[str]) -> str:
    return "\n".join([f"*{table}", *lines, "COMMIT", ""])


def _rule_edits(
    cmd: str, chain: str, present: bool, current: tuple[str, ...], wanted: tuple[str, ...]
) -> list[ChainEdit]:
    edits = [] if present else [ChainEdit("create", f"{cmd} -N {chain}")]
    extra = Counter(current) - Counter(wanted)
    missing = Counter(wanted) - Counter(current)
    edits += [ChainEdit("delete", f"{cmd} -D {chain} {rule}") for rule in extra.elements()]
    edits += [
        ChainEdit("create", f"{cmd} -A {chain} {rule}", (chain, rule))
        for rule in missing.elements()
    ]
    if not extra and not missing and present:
        edits.append(ChainEdit("update", f"{cmd} {chain}: rule order"))
    return edits
