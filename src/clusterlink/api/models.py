"""Typed models of ``Cluster``, ``ClusterNode`` and ``NodeConfig`` (``kosmos.io/v1alpha1``).

Field names and JSON shapes are upstream's, so objects written by upstream tools load here
and ours load there. Models are frozen: components never mutate an object they read, they
build a new one (``model_copy(update=...)``) and write that.

Addresses and CIDRs stay strings, as on the wire: a malformed CIDR in one entry must be
reported against that entry by :mod:`clusterlink.api.validation`, not make the whole object
unreadable.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clusterlink.api import constants as c


class _Model(BaseModel):
    """Base of every model: immutable, unknown fields rejected, Kubernetes JSON names."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ObjectMeta(BaseModel):
    """The subset of Kubernetes ``metadata`` the components use; other keys are kept."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    name: str = Field(min_length=1, max_length=253)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    resource_version: str | None = Field(default=None, alias="resourceVersion")
    uid: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = Field(default=None, alias="creationTimestamp")
    deletion_timestamp: str | None = Field(default=None, alias="deletionTimestamp")
    finalizers: list[str] = Field(default_factory=list)


class Condition(_Model):
    """A Kubernetes-style condition; problems found by the components are reported here."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = Field(default=None, alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")


# --- Cluster -------------------------------------------------------------------------------


class TunnelCIDRs(_Model):
    """Address space from which tunnel device addresses are allocated, per family."""

    ip: str
    ip6: str


class NICNodeNames(_Model):
    """Per-node override of the NIC that carries the tunnels."""

    interface_name: str = Field(alias="interfaceName")
    node_name: list[str] = Field(alias="nodeName")


class ClusterLinkOptions(_Model):
    """How one cluster takes part in the federation."""

    enable: bool = True
    cni: str = "calico"
    network_type: c.NetworkType = Field(default="p2p", alias="networkType")
    ip_family: c.IPFamily = Field(default="all", alias="ipFamily")
    use_ip_pool: bool = Field(default=False, alias="useIPPool")
    local_cidrs: TunnelCIDRs = Field(
        default=TunnelCIDRs(ip=c.DEFAULT_LOCAL_CIDR_V4, ip6=c.DEFAULT_LOCAL_CIDR_V6),
        alias="localCIDRs",
    )
    bridge_cidrs: TunnelCIDRs = Field(
        default=TunnelCIDRs(ip=c.DEFAULT_BRIDGE_CIDR_V4, ip6=c.DEFAULT_BRIDGE_CIDR_V6),
        alias="bridgeCIDRs",
    )
    nic_node_names: list[NICNodeNames] = Field(default_factory=list, alias="nicNodeNames")
    default_nic_name: str = Field(default=c.AUTO_NIC, alias="defaultNICName")
    global_cidrs_map: dict[str, str] = Field(default_factory=dict, alias="globalCIDRsMap")
    autodetection_method: str = Field(default="", alias="autodetectionMethod")
    # Our extension: when set, the controller-manager reports these instead of discovering
    # them (upstream can only read service CIDRs from a kube-apiserver static pod).
    pod_cidrs: list[str] | None = Field(default=None, alias="podCIDRs")
    service_cidrs: list[str] | None = Field(default=None, alias="serviceCIDRs")


class ClusterSpec(_Model):
    kubeconfig: str | None = None
    namespace: str = c.DEFAULT_NAMESPACE
    image_repository: str | None = Field(default=None, alias="imageRepository")
    cluster_link_options: ClusterLinkOptions | None = Field(
        default=None, alias="clusterLinkOptions"
    )
    # ClusterTree is out of scope; its options are carried through untouched.
    cluster_tree_options: dict[str, Any] | None = Field(default=None, alias="clusterTreeOptions")


class ClusterLinkStatus(_Model):
    pod_cidrs: list[str] = Field(default_factory=list, alias="podCIDRs")
    service_cidrs: list[str] = Field(default_factory=list, alias="serviceCIDRs")


class ClusterStatus(_Model):
    cluster_link_status: ClusterLinkStatus = Field(
        default_factory=ClusterLinkStatus, alias="clusterLinkStatus"
    )
    cluster_tree_status: dict[str, Any] | None = Field(default=None, alias="clusterTreeStatus")
    conditions: list[Condition] = Field(default_factory=list)


class Cluster(_Model):
    api_version: Literal["kosmos.io/v1alpha1"] = Field(
        default="kosmos.io/v1alpha1", alias="apiVersion"
    )
    kind: Literal["Cluster"] = "Cluster"
    metadata: ObjectMeta
    spec: ClusterSpec = Field(default_factory=ClusterSpec)
    status: ClusterStatus = Field(default_factory=ClusterStatus)

    @property
    def name(self) -> str:
        return self.metadata.name


# --- ClusterNode ---------------------------------------------------------------------------


class ClusterNodeSpec(_Model):
    cluster_name: str = Field(default="", alias="clusterName")
    node_name: str = Field(default="", alias="nodeName")
    pod_cidrs: list[str] = Field(default_factory=list, alias="podCIDRs")
    ip: str = ""
    ip6: str = ""
    roles: list[str] = Field(default_factory=list)
    interface_name: str = Field(default="", alias="interfaceName")

    @property
    def is_gateway(self) -> bool:
        """Gateway role, compared case-insensitively as upstream's ``IsGateway``."""
        return any(role.lower() == c.ROLE_GATEWAY for role in self.roles)


class ClusterNodeStatus(_Model):
    conditions: list[Condition] = Field(default_factory=list)


class ClusterNode(_Model):
    api_version: Literal["kosmos.io/v1alpha1"] = Field(
        default="kosmos.io/v1alpha1", alias="apiVersion"
    )
    kind: Literal["ClusterNode"] = "ClusterNode"
    metadata: ObjectMeta
    spec: ClusterNodeSpec = Field(default_factory=ClusterNodeSpec)
    status: ClusterNodeStatus = Field(default_factory=ClusterNodeStatus)

    @property
    def name(self) -> str:
        return self.metadata.name


# --- NodeConfig ----------------------------------------------------------------------------


class Device(_Model):
    """A VXLAN device. ``addr`` is ``ip/prefixlen`` with host bits kept."""

    type: Literal["vxlan"] = "vxlan"
    name: str
    addr: str
    mac: str
    bind_dev: str = Field(alias="bindDev")
    id: int = Field(ge=1, le=2**24 - 1, description="VXLAN network identifier (VNI)")
    port: int = Field(ge=1, le=65535, description="VXLAN UDP destination port")


class Route(_Model):
    """A route in table 200: ``cidr via gw dev dev onlink``."""

    cidr: str
    gw: str
    dev: str


class Iptables(_Model):
    """A nat rule; ``chain`` is PREROUTING or POSTROUTING, mapped to our own chains."""

    table: str
    chain: str
    rule: str


class Fdb(_Model):
    """A VXLAN forwarding entry: frames for ``mac`` on ``dev`` go to VTEP ``ip``."""

    ip: str
    mac: str
    dev: str


class Arp(_Model):
    """A permanent neighbour (ARP or NDP) entry."""

    ip: str
    mac: str
    dev: str


class NodeConfigSpec(_Model):
    devices: tuple[Device, ...] = ()
    routes: tuple[Route, ...] = ()
    iptables: tuple[Iptables, ...] = ()
    fdbs: tuple[Fdb, ...] = ()
    arps: tuple[Arp, ...] = ()


class NodeConfigStatus(_Model):
    last_change_time: str | None = Field(default=None, alias="lastChangeTime")
    last_sync_time: str | None = Field(default=None, alias="lastSyncTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    conditions: list[Condition] = Field(default_factory=list)


class NodeConfig(_Model):
    api_version: Literal["kosmos.io/v1alpha1"] = Field(
        default="kosmos.io/v1alpha1", alias="apiVersion"
    )
    kind: Literal["NodeConfig"] = "NodeConfig"
    metadata: ObjectMeta
    spec: NodeConfigSpec = Field(default_factory=NodeConfigSpec)
    status: NodeConfigStatus = Field(default_factory=NodeConfigStatus)

    @property
    def name(self) -> str:
        return self.metadata.name


KosmosObject = Cluster | ClusterNode | NodeConfig
KIND_MODELS: dict[str, type[Cluster] | type[ClusterNode] | type[NodeConfig]] = {
    "Cluster": Cluster,
    "ClusterNode": ClusterNode,
    "NodeConfig": NodeConfig,
}
