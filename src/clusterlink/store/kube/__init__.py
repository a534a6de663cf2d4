"""The ``kube`` backend: the store protocol over a real Kubernetes API server, via lightkube.

Open one with ``open_store("kube:///path/to/kubeconfig?context=member-a")``, ``kube://``
(kubectl's discovery) or ``kube://in-cluster`` (the pod's service account).
"""

from clusterlink.store.kube.backend import KubeStore
from clusterlink.store.kube.errors import ForbiddenError, UnauthorizedError
from clusterlink.store.kube.options import KubeLocation, KubeOptions, parse_kube_url
from clusterlink.store.kube.watch import KubeWatch

__all__ = [
    "ForbiddenError",
    "KubeLocation",
    "KubeOptions",
    "KubeStore",
    "KubeWatch",
    "UnauthorizedError",
    "parse_kube_url",
]
