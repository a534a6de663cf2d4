"""The ConfigMaps through which floaters and the doctor talk, in each member cluster's store.

- ``floater-<name>``: a floater's registration (cluster, node, network, addresses, port),
  written when it starts and deleted when it stops; the doctor's list of targets.
- ``floater-plan-<run>-<name>``: the doctor's plan for one floater, watched by that floater.
- ``floater-result-<run>-<name>``: the floater's answer, collected by the doctor.
Plans and results are JSON in ``data``; labels let each side select only what is theirs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from clusterlink.floater.outcome import PlanOutcome
from clusterlink.floater.plan import PlanError, ProbePlan, parse_plan, port_number, unicast_address

Network = Literal["host", "pod"]
NETWORKS: tuple[Network, ...] = ("host", "pod")
DEFAULT_NAMESPACE = "kosmos-system"
DEFAULT_PORT = 8889
APP_LABEL = "app"
APP = "clusterlink-floater"
RUN_LABEL = "clusterlink.io/floater-run"
PLAN_FOR_LABEL = "clusterlink.io/floater-plan-for"
RESULT_OF_LABEL = "clusterlink.io/floater-result-of"
REGISTRATION_KEY = "floater.json"
PLAN_KEY = "plan.json"
RESULT_KEY = "result.json"


@dataclass(frozen=True, slots=True)
class FloaterInfo:
    """Who a floater is and where peers reach it."""

    name: str
    cluster: str
    node: str
    network: Network
    addresses: tuple[str, ...]
    port: int = DEFAULT_PORT

    @property
    def node_config(self) -> str:
        """The name of its node's NodeConfig in the control store."""
        return f"{self.cluster}-{self.node}"

    def address(self, family: Literal[4, 6]) -> str | None:
        return next((a for a in self.addresses if (":" in a) == (family == 6)), None)


def _config_map(
    name: str, namespace: str, labels: Mapping[str, str], key: str, payload: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": {key: json.dumps(payload, separators=(",", ":"))},
    }


def _payload(document: Mapping[str, Any], key: str) -> Any:
    text = (document.get("data") or {}).get(key)
    if not isinstance(text, str):
        name = document.get("metadata", {}).get("name", "?")
        raise PlanError(f"ConfigMap {name}: no data key {key}")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{key}: not JSON: {exc}") from None


def registration_name(floater: str) -> str:
    return f"floater-{floater}"


def plan_name(run: str, floater: str) -> str:
    return f"floater-plan-{run}-{floater}"


def result_name(run: str, floater: str) -> str:
    return f"floater-result-{run}-{floater}"


def registration_document(info: FloaterInfo, namespace: str) -> dict[str, Any]:
    payload = {
        "name": info.name,
        "cluster": info.cluster,
        "node": info.node,
        "network": info.network,
        "addresses": list(info.addresses),
        "port": info.port,
    }
    return _config_map(
        registration_name(info.name), namespace, {APP_LABEL: APP}, REGISTRATION_KEY, payload
    )


def parse_registration(document: Mapping[str, Any]) -> FloaterInfo:
    payload = _payload(document, REGISTRATION_KEY)
    if not isinstance(payload, dict):
        raise PlanError(f"{REGISTRATION_KEY}: expected an object")
    network = payload.get("network")
    if network not in NETWORKS:
        raise PlanError(f"network: expected host or pod, got {network!r}")
    addresses = payload.get("addresses")
    if not isinstance(addresses, list):
        raise PlanError("addresses: expected a list")
    return FloaterInfo(
        name=str(payload["name"]),
        cluster=str(payload["cluster"]),
        node=str(payload["node"]),
        network=cast(Network, network),
        addresses=tuple(unicast_address(a, "addresses") for a in addresses),
        port=port_number(payload.get("port"), "port"),
    )


def plan_document(plan: ProbePlan, namespace: str) -> dict[str, Any]:
    labels = {APP_LABEL: APP, RUN_LABEL: plan.run, PLAN_FOR_LABEL: plan.floater}
    return _config_map(
        plan_name(plan.run, plan.floater), namespace, labels, PLAN_KEY, plan.to_document()
    )


def plan_from(document: Mapping[str, Any]) -> ProbePlan:
    """The validated plan in a plan ConfigMap, or :class:`PlanError`."""
    return parse_plan(_payload(document, PLAN_KEY))


def result_document(outcome: PlanOutcome, namespace: str) -> dict[str, Any]:
    labels = {APP_LABEL: APP, RUN_LABEL: outcome.run, RESULT_OF_LABEL: outcome.floater}
    return _config_map(
        result_name(outcome.run, outcome.floater),
        namespace,
        labels,
        RESULT_KEY,
        outcome.to_wire(),
    )


def result_from(document: Mapping[str, Any]) -> PlanOutcome:
    return PlanOutcome.from_document(_payload(document, RESULT_KEY))
