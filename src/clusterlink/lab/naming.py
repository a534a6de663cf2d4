"""Predictable names of everything a lab creates, so scripts and tests can address them.

Clusters are ``cluster1``, ``cluster2``, ...; nodes ``node1``, ... in each cluster; pods
``pod1``, ... on each node. Every network namespace of lab ``demo`` starts with
``cl-demo-``; lab names contain no dash, so one lab's prefix never matches another lab's
namespaces and cleanup by prefix cannot reach anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMESPACE_PREFIX = "cl-"
_LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")


class LabNameError(ValueError):
    """A lab name or a CLUSTER/NODE[/POD] reference that cannot be used."""


def check_lab_name(name: str) -> str:
    if not _LAB_NAME.match(name):
        raise LabNameError(
            f"invalid lab name {name!r}: use 1-16 lowercase letters and digits, starting "
            "with a letter"
        )
    return name


def cluster_name(index: int) -> str:
    return f"cluster{index}"


def node_name(index: int) -> str:
    return f"node{index}"


def pod_name(index: int) -> str:
    return f"pod{index}"


def lab_prefix(lab: str) -> str:
    """The prefix of every namespace of this lab (``cl-demo-``)."""
    return f"{NAMESPACE_PREFIX}{lab}-"


def router_namespace(lab: str) -> str:
    return f"{lab_prefix(lab)}router"


def control_namespace(lab: str) -> str:
    """Where the control-plane processes run: no links but ``lo``."""
    return f"{lab_prefix(lab)}control"


def node_namespace(lab: str, cluster: str, node: str) -> str:
    return f"{lab_prefix(lab)}{cluster}-{node}"


def pod_namespace(lab: str, cluster: str, node: str, pod: str) -> str:
    return f"{lab_prefix(lab)}{cluster}-{node}-{pod}"


def cluster_node_name(cluster: str, node: str) -> str:
    """Name of the node's ClusterNode and NodeConfig in the control store."""
    return f"{cluster}-{node}"


@dataclass(frozen=True, slots=True)
class Target:
    """A ``CLUSTER/NODE[/POD]`` reference given on the command line."""

    cluster: str
    node: str
    pod: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise LabNameError(f"expected CLUSTER/NODE or CLUSTER/NODE/POD, got {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.cluster, self.node, self.pod) if p)
