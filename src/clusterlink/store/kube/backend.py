"""The store protocol over a real Kubernetes API server.

Every call is one REST request built by lightkube (paths, query, body) and sent through
:class:`~.transport.ApiSession`; the server decides, as it does for kubectl. Checks that
need no server state run here first, with the same errors as the embedded store (unknown
kind, malformed metadata or selectors, a status write to a kind without the subresource), so
callers see one behaviour on both backends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
from lightkube.config.kubeconfig import SERVICE_ACCOUNT
from lightkube.core.generic_client import ALL_NS, BasicRequest
from lightkube.core.resource import Resource
from lightkube.generic_resource import Generic
from lightkube.types import PatchType

from clusterlink.store.errors import InvalidError
from clusterlink.store.field_selectors import FieldSelector
from clusterlink.store.kinds import DEFAULT_KINDS, KindInfo, KindRegistry
from clusterlink.store.kube.config import load_config
from clusterlink.store.kube.options import parse_kube_url
from clusterlink.store.kube.resources import KubeResources
from clusterlink.store.kube.transport import ApiSession
from clusterlink.store.kube.watch import KubeWatch, WatchSettings
from clusterlink.store.objects import ObjectKey, address, checked_key, collection_address
from clusterlink.store.protocol import ObjectList
from clusterlink.store.selection import Selection


def _field_selector_text(selector: FieldSelector) -> str:
    return ",".join(
        f"{req.field}{'=' if req.equal else '!='}{req.value}" for req in selector.requirements
    )


def _plain(key: ObjectKey, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-only deep copy of ``obj``, which the caller keeps owning."""
    try:
        copied: dict[str, Any] = json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise key.invalid("object", f"not representable as JSON: {exc}") from None
    return copied


def _decoded(response: httpx2.Response) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)
    return body


def _still_present(obj: Mapping[str, Any]) -> bool:
    """Whether a DELETE answered with an object that waits for finalizers or a grace period."""
    metadata = obj.get("metadata") or {}
    return bool(metadata.get("deletionTimestamp")) and bool(
        metadata.get("finalizers") or metadata.get("deletionGracePeriodSeconds")
    )


class KubeStore:
    """An :class:`~clusterlink.store.protocol.ObjectStore` on one Kubernetes API server."""

    def __init__(
        self,
        url: str,
        *,
        kinds: KindRegistry = DEFAULT_KINDS,
        service_account: Path = Path(SERVICE_ACCOUNT),
    ) -> None:
        """``service_account``: where a pod's token, CA and namespace are mounted."""
        location = parse_kube_url(url)
        self._kinds = kinds
        self._resources = KubeResources.of(kinds)
        self._options = location.options
        config = load_config(url, location, service_account=service_account)
        self._session = ApiSession(config, location.options)
        self._watches: list[KubeWatch] = []
        self._watches_lock = threading.Lock()

    @property
    def server(self) -> str:
        """The API server's URL, as the kubeconfig or service account names it."""
        return self._session.server

    # --- reads -------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        info, key = address(self._kinds, kind, name, namespace)
        request = self._request("get", info, key)
        return self._complete(info, _decoded(self._session.send(request, key)))

    def list(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> ObjectList:
        info = self._kinds.info(kind)
        selection = Selection.parse(namespace, label_selector, field_selector)
        key = ObjectKey(kind, namespace or "", "")
        params = self._selector_params(selection)
        params["limit"] = str(self._options.page_size)
        items: list[dict[str, Any]] = []
        resource_version = ""
        while True:
            request = self._collection_request(info, namespace, params)
            page = _decoded(self._session.send(request, key))
            metadata = page.get("metadata") or {}
            resource_version = resource_version or str(metadata.get("resourceVersion") or "")
            items.extend(self._complete(info, item) for item in page.get("items") or [])
            if not metadata.get("continue"):
                break
            params["continue"] = str(metadata["continue"])
        chosen = [item for item in items if selection.matches(item)]
        chosen.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return ObjectList(tuple(chosen), resource_version)

    def watch(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        timeout_seconds: float | None = None,
    ) -> KubeWatch:
        info = self._kinds.info(kind)
        selection = Selection.parse(namespace, label_selector, field_selector)
        key = ObjectKey(kind, namespace or "", "")

        def open_stream(since: str, server_seconds: int) -> httpx2.Response:
            params = self._selector_params(selection)
            params.update(
                resourceVersion=since,
                timeoutSeconds=str(server_seconds),
                allowWatchBookmarks="true",
            )
            request = self._collection_request(info, namespace, params, watch=True)
            # The server ends the stream after server_seconds; silence well past that means
            # the connection died without a reset, and the watch reconnects.
            request.timeout = httpx2.Timeout(
                self._options.timeout, read=server_seconds + self._options.timeout
            )
            return self._session.send(request, key, stream=True)

        watch = KubeWatch(
            key,
            open_stream=open_stream,
            snapshot=lambda: self.list(
                kind,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
            ),
            complete=lambda obj: self._complete(info, obj),
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
            settings=WatchSettings(
                self._options.watch_seconds, self._options.retries, self._options.backoff
            ),
        )
        with self._watches_lock:
            self._watches = [*(w for w in self._watches if not w.finished), watch]
        return watch

    # --- writes ------------------------------------------------------------------------

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        info, key = checked_key(self._kinds, obj)
        if obj["metadata"].get("resourceVersion"):
            raise key.invalid(
                "metadata.resourceVersion", "must not be set on objects to be created"
            )
        body = self._body(info, key, obj)
        request = self._request("post", info, key, body=Generic(**body))
        return self._complete(info, _decoded(self._session.send(request, key)))

    def create_many(self, objs: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
        """One create request each: the API has no request that creates several objects."""
        return tuple(self.create(obj) for obj in objs)

    def update(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._replace(obj, status=False)

    def update_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self._replace(obj, status=True)

    def patch(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        return self._merge_patch(kind, name, patch, namespace, status=False)

    def patch_status(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        return self._merge_patch(kind, name, patch, namespace, status=True)

    def delete(
        self, kind: str, name: str, namespace: str = "", *, resource_version: str = ""
    ) -> dict[str, Any] | None:
        info, key = address(self._kinds, kind, name, namespace)
        request = self._request("delete", info, key)
        if resource_version:
            request.data = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "preconditions": {"resourceVersion": resource_version},
            }
        answer = _decoded(self._session.send(request, key))
        if answer.get("kind") == "Status" or not _still_present(answer):
            return None
        return self._complete(info, answer)

    def delete_collection(self, kind: str, namespace: str = "", *, label_selector: str = "") -> int:
        """One DELETE on the collection URL: the server deletes (or marks) every match."""
        info, key = collection_address(self._kinds, kind, namespace)
        selection = Selection.parse(namespace, label_selector, "")
        request = self._session.client.prepare_request(
            "deletecollection",
            self._resources.resource(info.kind).resource,
            namespace=namespace or None,
            params=self._selector_params(selection),
        )
        answer = _decoded(self._session.send(request, key))
        # The server answers the list of what it deleted or marked; were it a Status, that
        # would carry no count.
        items = answer.get("items") if answer.get("kind") != "Status" else None
        return len(items) if isinstance(items, list) else 0

    def close(self) -> None:
        with self._watches_lock:
            watches, self._watches = self._watches, []
        for watch in watches:
            watch.stop()
        self._session.close()

    # --- internals -----------------------------------------------------------------------

    def _replace(self, obj: Mapping[str, Any], *, status: bool) -> dict[str, Any]:
        info, key = checked_key(self._kinds, obj)
        body = self._body(info, key, obj)
        request = self._request("put", info, key, body=Generic(**body), status=status)
        return self._complete(info, _decoded(self._session.send(request, key)))

    def _merge_patch(
        self, kind: str, name: str, patch: Mapping[str, Any], namespace: str, *, status: bool
    ) -> dict[str, Any]:
        info, key = address(self._kinds, kind, name, namespace)
        if not isinstance(patch, Mapping):
            raise key.invalid("patch", "a merge patch must be a JSON object")
        metadata = patch.get("metadata") or {}
        for field, expected in (("name", name), ("namespace", namespace)):
            if field in metadata and (metadata[field] or "") != expected:
                raise key.invalid(f"metadata.{field}", "cannot be changed by a patch")
        request = self._request(
            "patch",
            info,
            key,
            body=_plain(key, patch),
            status=status,
            headers={"Content-Type": PatchType.MERGE.value},
        )
        return self._complete(info, _decoded(self._session.send(request, key)))

    def _resource(self, info: KindInfo, key: ObjectKey, *, status: bool) -> type[Resource]:
        resource = self._resources.resource(info.kind)
        if not status:
            return resource.resource
        if resource.status is None:
            raise InvalidError(
                f"{info.kind} has no status subresource; write its status with update",
                kind=key.kind,
                name=key.name,
                namespace=key.namespace,
            )
        return resource.status

    def _request(
        self,
        method: str,
        info: KindInfo,
        key: ObjectKey,
        *,
        body: Any = None,
        status: bool = False,
        headers: dict[str, str] | None = None,
    ) -> BasicRequest:
        return self._session.client.prepare_request(
            method,
            self._resource(info, key, status=status),
            obj=body,
            name=None if method == "post" else key.name,
            namespace=key.namespace or None,
            headers=headers,
        )

    def _collection_request(
        self,
        info: KindInfo,
        namespace: str | None,
        params: dict[str, str],
        *,
        watch: bool = False,
    ) -> BasicRequest:
        scope = namespace if info.namespaced and namespace else None
        if info.namespaced and scope is None:
            scope = ALL_NS
        return self._session.client.prepare_request(
            "list",
            self._resources.resource(info.kind).resource,
            namespace=scope,
            watch=watch,
            params=dict(params),
        )

    @staticmethod
    def _selector_params(selection: Selection) -> dict[str, str]:
        params: dict[str, str] = {}
        if selection.labels.requirements:
            params["labelSelector"] = str(selection.labels)
        if selection.fields.requirements:
            params["fieldSelector"] = _field_selector_text(selection.fields)
        return params

    def _body(self, info: KindInfo, key: ObjectKey, obj: Mapping[str, Any]) -> dict[str, Any]:
        body = _plain(key, obj)
        body.setdefault("apiVersion", info.api_version)
        return body

    @staticmethod
    def _complete(info: KindInfo, obj: dict[str, Any]) -> dict[str, Any]:
        """Lists of built-in kinds omit each item's ``apiVersion`` and ``kind``."""
        obj.setdefault("apiVersion", info.api_version)
        obj.setdefault("kind", info.kind)
        return obj
