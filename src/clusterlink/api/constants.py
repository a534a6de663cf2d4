"""Names and numbers shared by every component, kept equal to upstream Kosmos where they
are part of the wire or host contract (device names, VNIs, ports, table 200)."""

from typing import Final, Literal

GROUP: Final = "kosmos.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

NetworkType = Literal["p2p", "gateway"]
IPFamily = Literal["all", "ipv4", "ipv6"]
Family = Literal[4, 6]

NETWORK_TYPE_P2P: Final = "p2p"
NETWORK_TYPE_GATEWAY: Final = "gateway"
ROLE_GATEWAY: Final = "gateway"
DEVICE_TYPE_VXLAN: Final = "vxlan"

VX_BRIDGE: Final = "vx-bridge"
VX_LOCAL: Final = "vx-local"
VX_BRIDGE_6: Final = "vx-bridge-6"
VX_LOCAL_6: Final = "vx-local-6"


def bridge_device(family: Family) -> str:
    """The cross-cluster device of one address family."""
    return VX_BRIDGE if family == 4 else VX_BRIDGE_6


def local_device(family: Family) -> str:
    """The in-cluster (node to gateway) device of one address family."""
    return VX_LOCAL if family == 4 else VX_LOCAL_6


# VNI and UDP destination port of each device, as upstream.
DEVICE_VNI: Final[dict[str, int]] = {VX_BRIDGE: 54, VX_LOCAL: 55, VX_BRIDGE_6: 64, VX_LOCAL_6: 65}
DEVICE_PORT: Final[dict[str, int]] = {
    VX_BRIDGE: 4876,
    VX_LOCAL: 4877,
    VX_BRIDGE_6: 4866,
    VX_LOCAL_6: 4867,
}
DEVICE_FAMILY: Final[dict[str, Family]] = {VX_BRIDGE: 4, VX_LOCAL: 4, VX_BRIDGE_6: 6, VX_LOCAL_6: 6}
DEVICE_NAMES: Final = (VX_BRIDGE, VX_LOCAL, VX_BRIDGE_6, VX_LOCAL_6)

ZERO_MAC: Final = "00:00:00:00:00:00"
ROUTE_TABLE: Final = 200
RULE_PRIORITY: Final = 200
# Real VXLAN encapsulation overhead: outer IP + UDP + VXLAN + inner Ethernet.
VXLAN_OVERHEAD_IPV4: Final = 50
VXLAN_OVERHEAD_IPV6: Final = 70

CHAIN_PREROUTING: Final = "CLUSTERLINK-PREROUTING"
CHAIN_POSTROUTING: Final = "CLUSTERLINK-POSTROUTING"

DEFAULT_NAMESPACE: Final = "kosmos-system"
CONTROL_CLUSTER_NAME: Final = "kosmos-control-cluster"
AUTO_NIC: Final = "*"
LABEL_CLUSTER: Final = "kosmos.io/cluster"
LABEL_EXCLUDE: Final = "kosmos.io/exclude"

# Tunnel address spaces. Upstream defaults to 210.0.0.0/8 and 220.0.0.0/8, which are
# public, routed ranges; ours are the RFC 2544 benchmarking block (never routed on the
# Internet) and unique-local IPv6, with "local" and "bridge" mirrored consistently in
# both families (upstream swaps them between its CRD and its CLI).
DEFAULT_LOCAL_CIDR_V4: Final = "198.18.0.0/16"
DEFAULT_BRIDGE_CIDR_V4: Final = "198.19.0.0/16"
DEFAULT_LOCAL_CIDR_V6: Final = "fdc1:18::/48"
DEFAULT_BRIDGE_CIDR_V6: Final = "fdc1:19::/48"
