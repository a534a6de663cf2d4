"""What a join writes besides the manifests: the Cluster object and the member's credentials.

The member's components reach the control plane with the kubeconfigs in Secret
``clusterlink-agent-proxy``. Upstream's join leaves that Secret empty; here each kubeconfig
is built from the token the control plane issues to the component's identity there (the
``<identity>-token`` Secrets of :func:`~.manifests.member_identity_manifests`), so the
member works as soon as the join returns. On an embedded store there are no tokens: each
entry holds the control store's URL, which is what the lab gives its processes as ``--store``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from clusterlink.api.constants import API_VERSION
from clusterlink.deploy.access import MEMBER_COMPONENTS
from clusterlink.deploy.manifests import member_identity_name
from clusterlink.deploy.settings import DeploySettings
from clusterlink.deploy.targets import ObjectId, ObjectTarget

ROOT_ANNOTATION = "kosmos.io/cluster-role"


class CredentialsError(RuntimeError):
    """The control plane did not issue a token for a member identity in time."""


@dataclass(frozen=True, slots=True)
class JoinOptions:
    """The flags of ``kosmosctl join cluster`` (defaults as upstream's kosmosctl)."""

    name: str
    settings: DeploySettings = field(default_factory=DeploySettings)
    cni: str = "calico"
    default_nic: str = "*"
    network_type: str = "gateway"
    ip_family: str = "ipv4"
    enable_link: bool = True
    global_cidrs_map: Mapping[str, str] = field(default_factory=dict)
    pod_cidrs: tuple[str, ...] = ()
    service_cidrs: tuple[str, ...] = ()
    root: bool = False


def cluster_document(options: JoinOptions) -> dict[str, Any]:
    """The Cluster the join creates in the control plane."""
    link: dict[str, Any] = {
        "enable": options.enable_link,
        "cni": options.cni,
        "networkType": options.network_type,
        "ipFamily": options.ip_family,
        "defaultNICName": options.default_nic or "*",
    }
    if options.global_cidrs_map:
        link["globalCIDRsMap"] = dict(options.global_cidrs_map)
    if options.pod_cidrs:
        link["podCIDRs"] = list(options.pod_cidrs)
    if options.service_cidrs:
        link["serviceCIDRs"] = list(options.service_cidrs)
    metadata: dict[str, Any] = {"name": options.name}
    if options.root:
        metadata["annotations"] = {ROOT_ANNOTATION: "root"}
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": metadata,
        "spec": {
            "namespace": options.settings.namespace,
            "imageRepository": options.settings.image_repository,
            "clusterLinkOptions": link,
        },
    }


def parse_cidr_map(text: str) -> dict[str, str]:
    """``10.233.0.0/16=10.100.0.0/16,...`` as a ``globalCIDRsMap``."""
    mapping: dict[str, str] = {}
    for entry in (piece.strip() for piece in text.split(",")):
        if not entry:
            continue
        real, separator, mapped = entry.partition("=")
        if not separator or not real.strip() or not mapped.strip():
            raise ValueError(f"{entry!r} is not REAL_CIDR=GLOBAL_CIDR")
        mapping[real.strip()] = mapped.strip()
    return mapping


def token_kubeconfig(server: str, user: str, token: str, ca_data: str | None) -> str:
    """A kubeconfig reaching ``server`` with a bearer ``token``; ``ca_data`` is base64 PEM."""
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kosmos-control-plane", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "kosmos-control-plane", "user": user}}],
        "current-context": user,
    }
    return yaml.safe_dump(config, sort_keys=False)


def issued_kubeconfigs(
    control: ObjectTarget,
    cluster: str,
    settings: DeploySettings,
    server: str,
    *,
    timeout: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """One kubeconfig per member component, from the tokens of its control-plane identity,
    waiting up to ``timeout`` seconds for the token controller to fill the Secrets."""
    deadline = clock() + timeout
    made: dict[str, str] = {}
    for access in MEMBER_COMPONENTS:
        identity = member_identity_name(cluster, access)
        secret = ObjectId("Secret", f"{identity}-token", settings.namespace)
        while True:
            data = (control.get(secret) or {}).get("data") or {}
            if data.get("token"):
                break
            if clock() >= deadline:
                raise CredentialsError(
                    f"the control plane issued no token into {secret} within {timeout:.0f}s; "
                    "is kube-controller-manager's token controller running?"
                )
            sleep(0.5)
        token = base64.b64decode(data["token"]).decode()
        made[access.component] = token_kubeconfig(server, identity, token, data.get("ca.crt"))
    return made


def store_url_credentials(control_store_url: str) -> dict[str, str]:
    """On embedded stores: every member component gets the control store's URL."""
    return {access.component: control_store_url for access in MEMBER_COMPONENTS}


def placeholder_credentials(cluster: str) -> dict[str, str]:
    """What ``--dry-run`` shows in place of tokens that do not exist yet."""
    return {
        access.component: (
            f"# filled by the join with a token of {member_identity_name(cluster, access)}\n"
        )
        for access in MEMBER_COMPONENTS
    }
