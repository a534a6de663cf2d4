"""An :class:`~.targets.ObjectTarget` on a real API server, for every kind kosmosctl installs.

Requests go through the ``kube`` store's :class:`~clusterlink.store.kube.transport.ApiSession`
(rate limit, retries, errors mapped to ``clusterlink.store`` errors naming the object), with
lightkube's resource classes fixing each kind's REST path. Objects stay JSON dicts: a
manifest is sent as generated, nothing is dropped by a typed model.

Writes are create-or-replace (GET, then POST or PUT with the resourceVersion read), not
server-side apply, so the same requests work on every API server and on the test emulator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from lightkube.core.generic_client import ALL_NS
from lightkube.core.resource import Resource, api_info
from lightkube.generic_resource import Generic, create_global_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import DaemonSet, Deployment
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import (
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
)

from clusterlink.deploy.targets import ObjectId
from clusterlink.store import NotFoundError
from clusterlink.store.kube.config import load_config
from clusterlink.store.kube.options import parse_kube_url
from clusterlink.store.kube.transport import ApiSession
from clusterlink.store.objects import ObjectKey

RESOURCES: Mapping[str, type[Resource]] = MappingProxyType(
    {
        "Namespace": Namespace,
        "CustomResourceDefinition": CustomResourceDefinition,
        "ServiceAccount": ServiceAccount,
        "Secret": Secret,
        "ClusterRole": ClusterRole,
        "Role": Role,
        "ClusterRoleBinding": ClusterRoleBinding,
        "RoleBinding": RoleBinding,
        "Cluster": create_global_resource("kosmos.io", "v1alpha1", "Cluster", "clusters"),
        "Deployment": Deployment,
        "DaemonSet": DaemonSet,
    }
)
NAMESPACED = frozenset(
    {"ServiceAccount", "Secret", "Role", "RoleBinding", "Deployment", "DaemonSet"}
)


def _key(target: ObjectId) -> ObjectKey:
    return ObjectKey(target.kind, target.namespace, target.name)


class KubeTarget:
    """The API server a ``kube://`` URL names (``kube:///path/kubeconfig?context=c``)."""

    def __init__(self, url: str) -> None:
        location = parse_kube_url(url)
        self._session = ApiSession(load_config(url, location), location.options)

    @property
    def server(self) -> str:
        return self._session.server

    @property
    def description(self) -> str:
        return f"API server {self.server}"

    def holds(self, kind: str) -> bool:
        return kind in RESOURCES

    def get(self, target: ObjectId) -> dict[str, Any] | None:
        request = self._session.client.prepare_request(
            "get", RESOURCES[target.kind], name=target.name, namespace=target.namespace or None
        )
        try:
            return self._complete(target.kind, self._send(request, _key(target)))
        except NotFoundError:
            return None

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        target = ObjectId.of(obj)
        request = self._session.client.prepare_request(
            "post", RESOURCES[target.kind], obj=Generic(**json.loads(json.dumps(obj)))
        )
        return self._complete(target.kind, self._send(request, _key(target)))

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        target = ObjectId.of(obj)
        request = self._session.client.prepare_request(
            "put",
            RESOURCES[target.kind],
            obj=Generic(**json.loads(json.dumps(obj))),
            name=target.name,
            namespace=target.namespace or None,
        )
        return self._complete(target.kind, self._send(request, _key(target)))

    def delete(self, target: ObjectId) -> bool:
        request = self._session.client.prepare_request(
            "delete", RESOURCES[target.kind], name=target.name, namespace=target.namespace or None
        )
        request.data = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
        }
        try:
            self._send(request, _key(target))
        except NotFoundError:
            return False
        return True

    def list_labelled(self, kind: str, label_selector: str) -> list[dict[str, Any]]:
        request = self._session.client.prepare_request(
            "list",
            RESOURCES[kind],
            namespace=ALL_NS if kind in NAMESPACED else None,
            params={"labelSelector": label_selector},
        )
        try:
            page = self._send(request, ObjectKey(kind, "", ""))
        except NotFoundError:
            return []  # the kind is not served (e.g. the CRD was never installed)
        return [self._complete(kind, item) for item in page.get("items") or []]

    def review_access(self, attributes: Mapping[str, str]) -> bool:
        """Whether the server allows the caller ``attributes`` (a SelfSubjectAccessReview's
        ``resourceAttributes``); store errors when the server cannot answer."""
        body: dict[str, Any] = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": dict(attributes)},
        }
        request = self._session.client.prepare_request(
            "post", SelfSubjectAccessReview, obj=Generic(**body)
        )
        answer = self._send(request, ObjectKey("SelfSubjectAccessReview", "", ""))
        return bool((answer.get("status") or {}).get("allowed"))

    def close(self) -> None:
        self._session.close()

    def _send(self, request: Any, key: ObjectKey) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self._session.send(request, key).content)
        return body

    @staticmethod
    def _complete(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("kind", kind)
        obj.setdefault("apiVersion", api_info(RESOURCES[kind]).resource.api_version)
        return obj
