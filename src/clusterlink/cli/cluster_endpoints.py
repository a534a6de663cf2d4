"""Turning ``--kubeconfig/--context`` or ``--store`` flags into a cluster to install into.

A kubeconfig means a real API server: every kind is written and access rights are
reviewed. ``--store URL`` means the store only (the lab's embedded stores, or a
``kube://`` store URL): only the kinds the store holds are written (Cluster, Secret), the
rest is reported as skipped. Both can be mixed, e.g. a real member and a lab control plane.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from clusterlink.cli.output import BadInputError
from clusterlink.deploy.kube_target import KubeTarget
from clusterlink.deploy.lifecycle import Endpoint
from clusterlink.deploy.store_target import StoreTarget
from clusterlink.store import StoreError, open_store


def kube_url(kubeconfig: str | None, context: str | None) -> str:
    """The ``kube://`` URL of a kubeconfig file (None: discovered as kubectl does)."""
    path = str(Path(kubeconfig).expanduser().absolute()) if kubeconfig else ""
    url = f"kube://{path}"
    return f"{url}?context={quote(context)}" if context else url


@contextmanager
def opened(
    label: str,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    store_url: str | None = None,
    server: str | None = None,
) -> Iterator[Endpoint]:
    """The cluster the flags name, closed on exit; ``server`` overrides the API server URL
    member pods use to reach it."""
    if store_url and (kubeconfig or context):
        raise BadInputError(f"{label}: give either a kubeconfig (and context) or a store URL")
    try:
        if store_url:
            store = open_store(store_url)
            endpoint = Endpoint(label, store, StoreTarget(store, f"store {store_url}"), store_url)
        else:
            url = kube_url(kubeconfig, context)
            store = open_store(url)
            target = KubeTarget(url)
            endpoint = Endpoint(label, store, target, url, server or target.server)
    except (StoreError, ValueError) as exc:
        raise BadInputError(f"{label}: {exc}") from None
    try:
        yield endpoint
    finally:
        endpoint.target.close()
        endpoint.store.close()
