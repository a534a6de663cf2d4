"""Which disabled Calico IPPools a member needs for the remote CIDRs, as pure functions.

Calico masquerades pod traffic to any destination outside every Calico IP pool when the
source pool has ``natOutgoing: true`` (its default pool does). Cross-cluster pod traffic
would then leave with the node's address, and the other side's NetworkPolicies would no
longer see the pod. Declaring every remote CIDR as a *disabled* pool (no allocation, no BGP
export, no encapsulation) keeps the pod's source address, as upstream's controller-manager
does.

Upstream reads every cluster's ``Cluster`` object to learn the remote CIDRs. A member here
may read only its own ``Cluster`` (the others' ``spec.kubeconfig`` hold credentials), so the
remote CIDRs come from this cluster's own NodeConfigs instead: the destinations of their
routes are exactly what this cluster sends into the tunnels, already mapped through
``globalCIDRsMap`` and without the CIDRs that overlap this cluster. A CIDR that overlaps a
pool that is not ours is skipped and reported: declaring it would change the meaning of
the cluster's own pools.

Our pools are named ``clusterlink-<cidr>`` (CIDR discovery ignores that prefix) and labelled
``app.kubernetes.io/managed-by: clusterlink``; a pool lacking either is never changed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from clusterlink.api.models import ClusterLinkOptions
from clusterlink.api.validation import IPNetwork, parse_network
from clusterlink.controllers.cidr_discovery import OWN_IPPOOL_PREFIX

CALICO: Final = "calico"
IPPOOL_API_VERSION: Final = "crd.projectcalico.org/v1"
POOL_NAME_PREFIX: Final = f"{OWN_IPPOOL_PREFIX}-"
MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "clusterlink"
MAX_NAME_LENGTH: Final = 253
"""Kubernetes object names are DNS subdomains; ``clusterlink-`` plus the longest IPv6 CIDR
text (43 characters) is 55, far below."""

POOL_SPEC: Final[Mapping[str, Any]] = {
    "natOutgoing": False,
    "disabled": True,
    "disableBGPExport": True,
    "vxlanMode": "Never",
    "ipipMode": "Never",
}
"""Everything of our pools' spec but ``cidr``: never allocated from, announced or tunnelled."""

_NAME_SEPARATORS = re.compile(r"[.:/]")


# --- reading objects -----------------------------------------------------------------------


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _network(text: object) -> IPNetwork | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_network(text)
    except ValueError:
        return None


def _ordered(networks: Iterable[IPNetwork]) -> list[IPNetwork]:
    return sorted(networks, key=lambda n: (n.version, int(n.network_address), n.prefixlen))


def cni_of(cluster: Mapping[str, Any]) -> str:
    """``spec.clusterLinkOptions.cni``, with the model's default (``calico``) when unset."""
    options = _spec(cluster).get("clusterLinkOptions") or {}
    default = str(ClusterLinkOptions.model_fields["cni"].default)
    cni = options.get("cni") if isinstance(options, Mapping) else None
    return str(cni) if cni else default


def remote_cidrs(node_configs: Iterable[Mapping[str, Any]], nodes: Collection[str]) -> list[str]:
    """The destinations of every route in the NodeConfigs named in ``nodes`` (this cluster's
    nodes), canonical and without duplicates; unreadable ones are left out."""
    texts = {  # every node has mostly the same routes: parse each text once
        route.get("cidr")
        for config in node_configs
        if _name(config) in nodes
        for route in _spec(config).get("routes") or []
        if isinstance(route, Mapping)
    }
    networks = {network for text in texts if (network := _network(text)) is not None}
    return [str(network) for network in _ordered(networks)]


# --- our pools -----------------------------------------------------------------------------


def pool_name(cidr: str) -> str:
    """``clusterlink-10-234-0-0-16`` for ``10.234.0.0/16``."""
    return POOL_NAME_PREFIX + _NAME_SEPARATORS.sub("-", cidr)


def pool_document(cidr: str) -> dict[str, Any]:
    """The disabled IPPool that declares ``cidr``."""
    return {
        "apiVersion": IPPOOL_API_VERSION,
        "kind": "IPPool",
        "metadata": {"name": pool_name(cidr), "labels": {MANAGED_BY: MANAGER}},
        "spec": {"cidr": cidr, **POOL_SPEC},
    }


def is_ours(pool: Mapping[str, Any]) -> bool:
    """Named ``clusterlink-...`` *and* labelled as managed by us: the only pools we write."""
    return _name(pool).startswith(POOL_NAME_PREFIX) and _labels(pool).get(MANAGED_BY) == MANAGER


def is_clusters_own(pool: Mapping[str, Any]) -> bool:
    """A pool of the cluster itself (not named ``clusterlink*``), as CIDR discovery sees it."""
    return not _name(pool).startswith(OWN_IPPOOL_PREFIX)


# --- what is wanted ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkippedCIDR:
    """A remote CIDR declared by no pool of ours, because of the pool ``pool``."""

    cidr: str
    pool: str
    reason: str

    def __str__(self) -> str:
        return f"remote CIDR {self.cidr} not declared: {self.reason}"


@dataclass(frozen=True, slots=True)
class WantedPools:
    """The CIDRs our pools should declare, what was skipped, and why nothing is wanted
    (``idle``, "" when pools are wanted)."""

    cidrs: tuple[str, ...] = ()
    skipped: tuple[SkippedCIDR, ...] = ()
    idle: str = ""


def wanted_pools(
    cni: str, remote: Iterable[str], pools: Sequence[Mapping[str, Any]]
) -> WantedPools:
    """The pools this member should have: none unless its CNI is Calico and Calico has a
    pool of the cluster's own; else the remote CIDRs that overlap no pool but ours, merged
    where adjacent (the same addresses, fewer pools)."""
    if cni != CALICO:
        return WantedPools(idle=f"the cluster's CNI is {cni!r}, not {CALICO!r}")
    if not any(is_clusters_own(pool) for pool in pools):
        return WantedPools(idle="Calico has no IPPool of the cluster's own")
    others = _pools_not_ours(pools)
    kept: list[IPNetwork] = []
    skipped: list[SkippedCIDR] = []
    networks = [network for text in remote if (network := _network(text)) is not None]
    for network in networks:
        blocker = next(((n, o) for n, o in others if _overlap(network, o)), None)
        if blocker is None:
            kept.append(network)
            continue
        name, other = blocker
        reason = f"it overlaps IPPool {name} ({other}), which is not ours"
        skipped.append(SkippedCIDR(str(network), name, reason))
    cidrs, taken = _without_taken_names(_collapsed(kept), pools)
    return WantedPools(tuple(cidrs), (*skipped, *taken))


def _pools_not_ours(pools: Sequence[Mapping[str, Any]]) -> list[tuple[str, IPNetwork]]:
    """Name and network of every readable pool we do not own, by name."""
    readable = [
        (_name(pool), network)
        for pool in pools
        if not is_ours(pool) and (network := _network(_spec(pool).get("cidr"))) is not None
    ]
    return sorted(readable, key=lambda item: item[0])


def _overlap(one: IPNetwork, other: IPNetwork) -> bool:
    if isinstance(one, ipaddress.IPv4Network) and isinstance(other, ipaddress.IPv4Network):
        return one.overlaps(other)
    if isinstance(one, ipaddress.IPv6Network) and isinstance(other, ipaddress.IPv6Network):
        return one.overlaps(other)
    return False


def _collapsed(networks: Sequence[IPNetwork]) -> list[str]:
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    merged: list[IPNetwork] = [*ipaddress.collapse_addresses(v4)]
    merged += ipaddress.collapse_addresses(v6)
    return [str(network) for network in _ordered(merged)]


def _without_taken_names(
    cidrs: Sequence[str], pools: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[SkippedCIDR]]:
    """Leave out CIDRs whose pool name belongs to a pool that is not ours."""
    foreign = {_name(pool) for pool in pools if not is_ours(pool)}
    free = [cidr for cidr in cidrs if pool_name(cidr) not in foreign]
    taken = [
        SkippedCIDR(cidr, name, f"IPPool {name} exists and is not labelled {MANAGED_BY}={MANAGER}")
        for cidr in cidrs
        if (name := pool_name(cidr)) in foreign
    ]
    return free, taken


# --- from existing to wanted ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolRef:
    """A pool to delete, at the version it was decided on."""

    name: str
    resource_version: str


@dataclass(frozen=True, slots=True)
class PoolChanges:
    """Writes that turn the existing pools into the wanted ones; pools not ours never
    appear. ``update`` holds whole objects (their ``resourceVersion`` included)."""

    create: tuple[dict[str, Any], ...] = ()
    update: tuple[dict[str, Any], ...] = ()
    delete: tuple[PoolRef, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete)


def pool_changes(wanted: Sequence[str], existing: Sequence[Mapping[str, Any]]) -> PoolChanges:
    """Create the missing pools, restore our fields of drifted ones (fields Calico or an
    admin added are kept), delete ours that are no longer wanted."""
    ours = {_name(pool): pool for pool in existing if is_ours(pool)}
    names = {_name(pool) for pool in existing}
    documents = {pool_name(cidr): pool_document(cidr) for cidr in wanted}
    create = [doc for name, doc in documents.items() if name not in names]
    update = [
        restored
        for name, doc in documents.items()
        if name in ours and (restored := _restored(ours[name], doc["spec"])) is not None
    ]
    delete = [
        PoolRef(name, str(pool["metadata"].get("resourceVersion") or ""))
        for name, pool in sorted(ours.items())
        if name not in documents
    ]
    return PoolChanges(tuple(create), tuple(update), tuple(delete))


def _restored(pool: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any] | None:
    """``pool`` with our spec fields put back, or None when none drifted."""
    spec = _spec(pool)
    if all(spec.get(key) == value for key, value in wanted.items()):
        return None
    return {**pool, "spec": {**spec, **wanted}}
