"""Choosing the API server and credentials of a ``kube://`` store, as kubectl would.

lightkube reads kubeconfig files and the pod's service account; this module only picks
which of them a :class:`~.options.KubeLocation` means and turns every way that can fail
into one :class:`~clusterlink.store.errors.InvalidError` naming the URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from lightkube.config.kubeconfig import SERVICE_ACCOUNT, KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError

from clusterlink.store.errors import InvalidError
from clusterlink.store.kube.options import KubeLocation

DEFAULT_KUBECONFIG = Path("~/.kube/config")


def _in_cluster(service_account: Path) -> KubeConfig:
    if not os.environ.get("KUBERNETES_SERVICE_HOST") or not os.environ.get(
        "KUBERNETES_SERVICE_PORT"
    ):
        raise ConfigError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
    return KubeConfig.from_service_account(service_account)


def _from_file(path: Path) -> KubeConfig:
    expanded = path.expanduser()
    if not expanded.is_file():
        raise ConfigError(f"no kubeconfig file at {str(expanded)!r}")
    return KubeConfig.from_file(expanded)


def _discovered(service_account: Path) -> KubeConfig:
    try:
        return _in_cluster(service_account)
    except ConfigError:
        return _from_file(Path(os.environ.get("KUBECONFIG", str(DEFAULT_KUBECONFIG))))


def load_config(
    url: str, location: KubeLocation, *, service_account: Path = Path(SERVICE_ACCOUNT)
) -> SingleConfig:
    """The one cluster, user and namespace ``location`` selects."""
    try:
        if location.in_cluster:
            config = _in_cluster(service_account)
        elif location.kubeconfig is not None:
            config = _from_file(location.kubeconfig)
        else:
            config = _discovered(service_account)
        selected = config.get(location.context)
    except (ConfigError, KeyError, OSError, ValueError) as exc:
        raise InvalidError(f"cannot open store {url!r}: {exc}") from None
    if selected is None:
        raise InvalidError(f"cannot open store {url!r}: the kubeconfig selects no context")
    if selected.user is None:
        raise InvalidError(
            f"cannot open store {url!r}: context {selected.context_name!r} names no user"
        )
    return selected
