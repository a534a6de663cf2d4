"""Where a member cluster's pod and service CIDRs come from, as pure functions of its objects.

The controller-manager reports these CIDRs on ``Cluster.status.clusterLinkStatus`` and the
network-manager routes them, so a wrong answer breaks traffic federation-wide. Every source
therefore yields one of three findings: *found* (canonical CIDRs and where they came from),
*invalid* (the source exists but is malformed: the message names the object and the field,
and the caller keeps the last good value) or *missing* (look further, or tell the user how
to set the override). Upstream reads disabled Calico pools as pod CIDRs and only finds
service CIDRs in a visible static apiserver pod; here disabled pools are ignored and an
explicit override in the Cluster spec wins over every discovery.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["found", "invalid", "missing"]

SERVICE_RANGE_FLAG = "--service-cluster-ip-range"
FLANNEL_CONFIGMAP = "kube-flannel-cfg"
FLANNEL_KEY = "net-conf.json"
OWN_IPPOOL_PREFIX = "clusterlink"
APISERVER_PREFIX = "kube-apiserver"


@dataclass(frozen=True, slots=True)
class Finding:
    """The CIDRs one source gave (``found``), or why it gave none."""

    outcome: Outcome
    cidrs: tuple[str, ...] = ()
    detail: str = ""

    @classmethod
    def missing(cls, detail: str) -> Finding:
        return cls("missing", (), detail)


class SourceError(ValueError):
    """A source that exists but cannot be read; the message names the object and field."""


def canonical_cidrs(values: object, where: str) -> tuple[str, ...]:
    """Each CIDR in network form (``10.96.0.1/12`` -> ``10.96.0.0/12``), duplicates dropped."""
    if not isinstance(values, list | tuple):
        raise SourceError(f"{where}: must be a list of CIDRs, not {type(values).__name__}")
    canonical: list[str] = []
    for index, value in enumerate(values):
        text = canonical_cidr(value, f"{where}[{index}]")
        if text not in canonical:
            canonical.append(text)
    return tuple(canonical)


def canonical_cidr(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SourceError(f"{where}: must be a CIDR string, not {type(value).__name__}")
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise SourceError(f"{where}: {value!r} is not a CIDR") from None


def _nested(document: Mapping[str, Any], *path: str) -> Any:
    current: Any = document
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _name_of(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace") or ""
    name = metadata.get("name") or ""
    return f"{namespace}/{name}" if namespace else str(name)


def _attempt(read: Callable[[], Iterable[str]], found: str) -> Finding:
    """Run a reader; its :class:`SourceError` becomes an ``invalid`` finding."""
    try:
        cidrs = tuple(read())
    except SourceError as error:
        return Finding("invalid", (), str(error))
    return Finding("found", cidrs, found)


# --- the override in the Cluster spec ----------------------------------------------------


def override_cidrs(cluster: Mapping[str, Any], field: str) -> Finding | None:
    """``spec.clusterLinkOptions.<field>`` when set to a non-empty list, else None."""
    value = _nested(cluster, "spec", "clusterLinkOptions", field)
    if value is None or value == []:
        return None
    where = f'Cluster "{_name_of(cluster)}" spec.clusterLinkOptions.{field}'
    return _attempt(lambda: canonical_cidrs(value, where), f"spec.clusterLinkOptions.{field}")


# --- pod CIDRs -----------------------------------------------------------------------------


def calico_pod_cidrs(pools: Sequence[Mapping[str, Any]]) -> Finding | None:
    """The CIDRs of enabled Calico IPPools, excluding ours (those stand for remote clusters)."""
    used = [
        pool
        for pool in pools
        if not str(_nested(pool, "metadata", "name") or "").startswith(OWN_IPPOOL_PREFIX)
        and _nested(pool, "spec", "disabled") is not True
    ]
    if not used:
        return None
    names = ", ".join(_name_of(pool) for pool in used)

    def read() -> Iterable[str]:
        seen: list[str] = []
        for pool in used:
            cidr = canonical_cidr(
                _nested(pool, "spec", "cidr"), f'IPPool "{_name_of(pool)}" spec.cidr'
            )
            if cidr not in seen:
                seen.append(cidr)
        return seen

    return _attempt(read, f"Calico IPPools {names}")


def flannel_pod_cidrs(configmaps: Sequence[Mapping[str, Any]]) -> Finding | None:
    """``Network``/``IPv6Network`` of flannel's ``net-conf.json``, if its ConfigMap exists."""
    candidates = sorted(
        (cm for cm in configmaps if _nested(cm, "metadata", "name") == FLANNEL_CONFIGMAP),
        key=_name_of,
    )
    if not candidates:
        return None
    configmap = candidates[0]
    where = f'ConfigMap "{_name_of(configmap)}" data["{FLANNEL_KEY}"]'
    text = _nested(configmap, "data", FLANNEL_KEY)
    return _attempt(lambda: _flannel_networks(text, where), f"flannel {where}")


def _flannel_networks(text: object, where: str) -> Iterable[str]:
    if not isinstance(text, str):
        raise SourceError(f"{where}: missing")
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(conf, dict):
        raise SourceError(f"{where}: must be a JSON object")
    networks: list[str] = []
    if conf.get("EnableIPv4", True) is not False and "Network" in conf:
        networks.append(canonical_cidr(conf["Network"], f"{where}.Network"))
    if conf.get("EnableIPv6") is True and "IPv6Network" in conf:
        networks.append(canonical_cidr(conf["IPv6Network"], f"{where}.IPv6Network"))
    if not networks:
        raise SourceError(f"{where}: has neither Network nor an enabled IPv6Network")
    return networks


def node_pod_cidrs(nodes: Sequence[Mapping[str, Any]]) -> Finding | None:
    """The union of every Node's ``spec.podCIDRs``, adjacent blocks merged."""
    with_cidrs = [node for node in nodes if pod_cidrs_of(node)]
    if not with_cidrs:
        return None

    def read() -> Iterable[str]:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for node in with_cidrs:
            where = f'Node "{_name_of(node)}" spec.podCIDRs'
            networks += map(ipaddress.ip_network, canonical_cidrs(pod_cidrs_of(node), where))
        v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
        v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
        merged = [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]
        return [str(network) for network in merged]

    return _attempt(read, f"spec.podCIDRs of {len(with_cidrs)} Node(s)")


def pod_cidrs_of(node: Mapping[str, Any]) -> list[Any]:
    """``spec.podCIDRs``, or the legacy single ``spec.podCIDR``."""
    values = _nested(node, "spec", "podCIDRs")
    if isinstance(values, list) and values:
        return values
    single = _nested(node, "spec", "podCIDR")
    return [single] if single else []


def discover_pod_cidrs(
    cluster: Mapping[str, Any],
    ippools: Sequence[Mapping[str, Any]],
    flannel_configmaps: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
) -> Finding:
    """The first source that exists: override, Calico, flannel, then the Nodes' own CIDRs."""
    for finding in (
        override_cidrs(cluster, "podCIDRs"),
        calico_pod_cidrs(ippools),
        flannel_pod_cidrs(flannel_configmaps),
        node_pod_cidrs(nodes),
    ):
        if finding is not None:
            return finding
    return Finding.missing(
        "no enabled Calico IPPool, no flannel ConfigMap and no Node with spec.podCIDRs; "
        "set spec.clusterLinkOptions.podCIDRs"
    )


# --- service CIDRs -------------------------------------------------------------------------


def is_apiserver_pod(pod: Mapping[str, Any]) -> bool:
    """A kube-apiserver (static) pod: by its ``component`` label or its name, as kubeadm."""
    labels = _nested(pod, "metadata", "labels") or {}
    name = str(_nested(pod, "metadata", "name") or "")
    return labels.get("component") == "kube-apiserver" or name.startswith(APISERVER_PREFIX)


def service_range_flag(arguments: Sequence[object]) -> str | None:
    """The value of ``--service-cluster-ip-range`` (``=value`` or the next argument)."""
    for index, argument in enumerate(arguments):
        if not isinstance(argument, str):
            continue
        if argument.startswith(SERVICE_RANGE_FLAG + "="):
            return argument.split("=", 1)[1]
        if argument == SERVICE_RANGE_FLAG and index + 1 < len(arguments):
            following = arguments[index + 1]
            return following if isinstance(following, str) else None
    return None


def apiserver_service_cidrs(pods: Sequence[Mapping[str, Any]]) -> Finding | None:
    """The service range from the first kube-apiserver pod (by name) that passes the flag,
    in ``command`` or ``args`` of any of its containers."""
    flagged = next(
        (
            (pod, value)
            for pod in sorted(filter(is_apiserver_pod, pods), key=_name_of)
            for container in _nested(pod, "spec", "containers") or []
            if (value := service_range_flag(_arguments(container))) is not None
        ),
        None,
    )
    if flagged is None:
        return None
    pod, value = flagged
    where = f'Pod "{_name_of(pod)}" flag {SERVICE_RANGE_FLAG}'
    pieces = [piece.strip() for piece in value.split(",") if piece.strip()]
    return _attempt(lambda: canonical_cidrs(pieces, where), f"kube-apiserver {where}")


def _arguments(container: Mapping[str, Any]) -> list[object]:
    return [*(container.get("command") or []), *(container.get("args") or [])]


def discover_service_cidrs(
    cluster: Mapping[str, Any], kube_system_pods: Sequence[Mapping[str, Any]]
) -> Finding:
    """The override, else the apiserver flag; else missing, saying how to set the override."""
    for finding in (
        override_cidrs(cluster, "serviceCIDRs"),
        apiserver_service_cidrs(kube_system_pods),
    ):
        if finding is not None:
            return finding
    return Finding.missing(
        f"no kube-apiserver pod in kube-system passes {SERVICE_RANGE_FLAG} (managed "
        "Kubernetes hides it); set spec.clusterLinkOptions.serviceCIDRs"
    )
