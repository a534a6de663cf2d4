"""Checks before a join writes anything, so a join that would break the federation is refused.

Pure functions of what was read from both clusters: the new Cluster object, the member's
Nodes, kube-system Pods, Calico IPPools and ConfigMaps (the sources the controller-manager
discovers CIDRs from), and the Clusters already joined. Findings are errors (the join is
refused), warnings (it goes ahead) or notes (what could not be checked and why).

A pod or service CIDR of the new cluster that overlaps one of another member (each seen
through its ``globalCIDRsMap``) makes routes ambiguous; the finding suggests a free block
of the same size for ``--global-cidrs-map``.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from clusterlink.api.errors import InvalidObjectError
from clusterlink.api.models import Cluster
from clusterlink.api.serialization import parse_object
from clusterlink.api.validation import IPNetwork, check_cluster, parse_network
from clusterlink.controllers.cidr_discovery import (
    Finding,
    discover_pod_cidrs,
    discover_service_cidrs,
)

Severity = Literal["error", "warning", "note"]

_NIC_NAME = re.compile(r"^[^/\s:]{1,15}$")
_FREE_POOLS: dict[int, tuple[str, ...]] = {
    4: ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
    6: ("fd00::/8",),
}
_MAX_CANDIDATES = 65536


@dataclass(frozen=True, slots=True)
class PreflightFinding:
    severity: Severity
    check: str
    message: str


@dataclass(frozen=True, slots=True)
class MemberView:
    """What was read from the member cluster (every list may be empty)."""

    nodes: tuple[dict[str, Any], ...] = ()
    kube_system_pods: tuple[dict[str, Any], ...] = ()
    ippools: tuple[dict[str, Any], ...] = ()
    configmaps: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class PreflightReport:
    findings: tuple[PreflightFinding, ...] = field(default=())

    @property
    def errors(self) -> tuple[PreflightFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def passed(self) -> bool:
        return not self.errors

    def plus(self, more: Iterable[PreflightFinding]) -> PreflightReport:
        return PreflightReport((*self.findings, *more))


@dataclass(frozen=True, slots=True)
class _Block:
    """One CIDR some cluster uses, and the CIDR other clusters route for it."""

    cluster: str
    what: str
    real: IPNetwork
    routed: IPNetwork


def _global_map(options: Mapping[str, Any]) -> dict[IPNetwork, IPNetwork]:
    mapped: dict[IPNetwork, IPNetwork] = {}
    for real, image in (options.get("globalCIDRsMap") or {}).items():
        try:
            mapped[parse_network(real)] = parse_network(image)
        except ValueError:
            continue
    return mapped


def _blocks(
    cluster: str, what: str, cidrs: Iterable[str], options: Mapping[str, Any]
) -> list[_Block]:
    mapping = _global_map(options)
    blocks = []
    for text in cidrs:
        try:
            real = parse_network(text)
        except ValueError:
            continue
        blocks.append(_Block(cluster, what, real, mapping.get(real, real)))
    return blocks


def _options(cluster: Mapping[str, Any]) -> Mapping[str, Any]:
    return (cluster.get("spec") or {}).get("clusterLinkOptions") or {}


def member_blocks(cluster: Mapping[str, Any]) -> list[_Block]:
    """The pod and service CIDRs a joined Cluster uses: the spec override, else its status."""
    name = str(cluster["metadata"]["name"])
    options = _options(cluster)
    status = (cluster.get("status") or {}).get("clusterLinkStatus") or {}
    blocks: list[_Block] = []
    for what, key in (("pod CIDR", "podCIDRs"), ("service CIDR", "serviceCIDRs")):
        cidrs = options.get(key) or status.get(key) or []
        blocks += _blocks(name, what, cidrs, options)
    return blocks


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    return a.version == b.version and (a.subnet_of(b) or b.subnet_of(a))  # type: ignore[arg-type]


def free_block(size_of: IPNetwork, taken: Sequence[IPNetwork]) -> IPNetwork | None:
    """The first private block of ``size_of``'s length that overlaps nothing in ``taken``."""
    for pool_text in _FREE_POOLS[size_of.version]:
        pool = ipaddress.ip_network(pool_text)
        if pool.prefixlen > size_of.prefixlen:
            continue
        candidates: Iterator[IPNetwork] = pool.subnets(new_prefix=size_of.prefixlen)
        for candidate in itertools.islice(candidates, _MAX_CANDIDATES):
            if not any(overlaps(candidate, other) for other in taken):
                return candidate
    return None


def _discovered(finding: Finding, what: str, name: str) -> tuple[list[str], list[PreflightFinding]]:
    if finding.outcome == "found":
        return list(finding.cidrs), []
    check = "cidrs"
    if finding.outcome == "invalid":
        return [], [PreflightFinding("error", check, f"{what}s of {name}: {finding.detail}")]
    return [], [
        PreflightFinding(
            "warning",
            check,
            f"{what}s of {name} are unknown, so overlaps with other members cannot be "
            f"checked: {finding.detail}",
        )
    ]


def check_cidrs(
    new: Mapping[str, Any], member: MemberView, joined: Sequence[Mapping[str, Any]]
) -> list[PreflightFinding]:
    """Overlaps of the new cluster's CIDRs with those of every other joined cluster."""
    name = str(new["metadata"]["name"])
    pods, problems = _discovered(
        discover_pod_cidrs(new, member.ippools, member.configmaps, member.nodes), "pod CIDR", name
    )
    services, more = _discovered(
        discover_service_cidrs(new, member.kube_system_pods), "service CIDR", name
    )
    problems += more
    options = _options(new)
    own = _blocks(name, "pod CIDR", pods, options) + _blocks(
        name, "service CIDR", services, options
    )
    others: list[_Block] = []
    for cluster in joined:
        if cluster["metadata"]["name"] == name:
            continue
        blocks = member_blocks(cluster)
        if not blocks:
            problems.append(
                PreflightFinding(
                    "warning",
                    "cidrs",
                    f"cluster {cluster['metadata']['name']} has reported no pod or service "
                    "CIDRs yet, so overlaps with it cannot be checked",
                )
            )
        others += blocks
    taken = [n for b in [*own, *others] for n in (b.real, b.routed)]
    for block in own:
        clashes = [o for o in others if overlaps(block.routed, o.routed)]
        for other in clashes:
            message = (
                f"{block.what} {block.routed} of {name} overlaps {other.what} {other.routed} "
                f"of cluster {other.cluster}"
            )
            free = free_block(block.real, taken)
            if free is not None:
                taken.append(free)
                message += (
                    f"; give {name} a global CIDR for it: --global-cidrs-map {block.real}={free}"
                )
            problems.append(PreflightFinding("error", "cidrs", message))
    return problems


def check_nic(new: Mapping[str, Any]) -> list[PreflightFinding]:
    options = _options(new)
    nic = str(options.get("defaultNICName") or "*")
    if nic == "*":
        if options.get("autodetectionMethod"):
            return []
        return [
            PreflightFinding(
                "note",
                "nic",
                "no --default-nic: each agent uses the interface of its node's default "
                "route; name the NIC when nodes have several (the API shows no node's NICs, "
                "so their names cannot be checked from here)",
            )
        ]
    if not _NIC_NAME.match(nic):
        return [
            PreflightFinding(
                "error",
                "nic",
                f"--default-nic {nic!r} is not a network interface name (1-15 characters, "
                "no '/', ':' or spaces)",
            )
        ]
    return []


def check_cluster_object(new: Mapping[str, Any]) -> list[PreflightFinding]:
    """The Cluster the join would create, with the checks the network-manager applies."""
    try:
        parsed = parse_object(dict(new), "the new Cluster")
    except InvalidObjectError as exc:
        return [PreflightFinding("error", "cluster", str(exc))]
    assert isinstance(parsed, Cluster)
    return [
        PreflightFinding("error", "cluster", f"{p.field}: {p.message}")
        for p in check_cluster(parsed).problems
        if p.severity == "error"
    ]


def check_join(
    new: Mapping[str, Any],
    member: MemberView,
    joined: Sequence[Mapping[str, Any]],
) -> PreflightReport:
    """Every object check of a join (access rights are checked apart: :mod:`.access_review`)."""
    name = new["metadata"]["name"]
    findings: list[PreflightFinding] = []
    if any(c["metadata"]["name"] == name for c in joined):
        findings.append(
            PreflightFinding(
                "error",
                "cluster",
                f"a Cluster named {name} exists already in the control plane; unjoin it "
                "first or choose another --name",
            )
        )
    findings += check_cluster_object(new)
    findings += check_nic(new)
    findings += check_cidrs(new, member, joined)
    if not member.nodes:
        findings.append(
            PreflightFinding("warning", "nodes", f"{name} has no Node: nothing will be linked yet")
        )
    return PreflightReport(tuple(findings))
