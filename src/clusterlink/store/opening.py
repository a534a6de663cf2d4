"""Opening a store from the URL every component and ``kosmosctl --store`` accept.

The URL scheme picks the backend, so the same command line works against the embedded
store of the lab and a real cluster.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from clusterlink.store.errors import InvalidError
from clusterlink.store.protocol import ObjectStore
from clusterlink.store.sqlite.backend import SqliteStore
from clusterlink.store.sqlite.options import parse_sqlite_url

SCHEMES = ("sqlite", "kube")


def open_store(url: str) -> ObjectStore:
    """The store at ``url``: ``sqlite:///abs/path.db``, ``sqlite://relative.db``, or a
    Kubernetes API server: ``kube://`` (kubectl's discovery), ``kube://in-cluster``,
    ``kube:///abs/kubeconfig?context=NAME``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        location = parse_sqlite_url(url)
        return SqliteStore(location.path, location.options)
    if scheme == "kube":
        # Imported here: lightkube and httpx are a tenth of a second that sqlite users skip.
        from clusterlink.store.kube.backend import KubeStore  # noqa: PLC0415

        return KubeStore(url)
    raise InvalidError(
        f"cannot open store {url!r}: unknown scheme {scheme!r}; supported: "
        + ", ".join(f"{s}://" for s in SCHEMES)
    )
