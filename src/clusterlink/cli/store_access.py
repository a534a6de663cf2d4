"""How commands reach a cluster's objects: ``--store URL``, or kubectl's
``--kubeconfig FILE [--context NAME]`` (a ``kube://`` store URL in disguise).

Every ``clusterlink`` component and every ``kosmosctl`` subcommand that talks to a cluster
takes these same flags; the command itself only ever sees one store URL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

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


def kube_store_url(kubeconfig: str | None, context: str | None) -> str:
    """The ``kube://`` URL of a kubeconfig file (None: kubectl's discovery) and context."""
    path = quote(str(Path(kubeconfig).resolve())) if kubeconfig else ""
    query = f"?{urlencode({'context': context})}" if context else ""
    return f"kube://{path}{query}"


def store_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--store URL`` | ``--kubeconfig FILE [--context NAME]``; the command gets ``store_url``."""

    @functools.wraps(function)
    def with_store_url(
        *args: Any, store: str | None, kubeconfig: str | None, context: str | None, **kwargs: Any
    ) -> Any:
        if store and (kubeconfig or context):
            raise click.UsageError("give either --store or --kubeconfig/--context, not both")
        if store:
            return function(*args, store_url=store, **kwargs)
        if kubeconfig or context:
            return function(*args, store_url=kube_store_url(kubeconfig, context), **kwargs)
        raise click.UsageError(
            "where are the objects? give --store URL (e.g. sqlite:///var/lib/kosmos/control.db)"
            " or --kubeconfig FILE [--context NAME]"
        )

    options = [
        click.option(
            "--store",
            envvar="KOSMOS_STORE",
            help="Store URL: sqlite:///path.db (embedded), kube:///path/to/kubeconfig?context=X"
            " or kube://in-cluster ($KOSMOS_STORE).",
        ),
        click.option(
            "--kubeconfig",
            type=click.Path(dir_okay=False),
            help="A kubeconfig file (same as --store kube:///FILE).",
        ),
        click.option("--context", help="The kubeconfig context to use."),
    ]
    decorated: Callable[..., Any] = with_store_url
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


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
