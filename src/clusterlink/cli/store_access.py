"""How ``kosmosctl`` commands reach a cluster's objects: ``--store URL``.

(The ``--kubeconfig``/``--context`` form arrives with the ``kube`` store backend.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from clusterlink.cli.output import BadInputError
from clusterlink.store import ObjectStore, StoreError, open_store

KIND_ALIASES = {
    "cluster": "Cluster",
    "clusters": "Cluster",
    "clusternode": "ClusterNode",
    "clusternodes": "ClusterNode",
    "cn": "ClusterNode",
    "nodeconfig": "NodeConfig",
    "nodeconfigs": "NodeConfig",
    "nc": "NodeConfig",
}


def store_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store",
        "store_url",
        required=True,
        envvar="KOSMOS_STORE",
        help="Store URL of the control plane, e.g. sqlite:///var/lib/kosmos/control.db "
        "(or $KOSMOS_STORE).",
    )(function)


def connect(url: str) -> ObjectStore:
    try:
        return open_store(url)
    except (StoreError, ValueError) as exc:
        raise BadInputError(f"cannot open store {url}: {exc}") from None


def resolve_kind(text: str) -> str:
    kind = KIND_ALIASES.get(text.lower())
    if kind is None:
        raise BadInputError(
            f"unknown resource type {text!r}; expected clusters, clusternodes or nodeconfigs"
        )
    return kind
