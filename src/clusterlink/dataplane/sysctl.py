"""Kernel settings the data path needs, and only those.

Forwarding for each family in use; loose reverse-path filtering (2) on our IPv4 devices and
on the interfaces they are bound to, because gateway mode is asymmetric (the effective
value is the maximum of ``all`` and the device's, so strict ``all`` still allows it); IPv6
enabled on our IPv6 devices; promotion of secondary addresses on our IPv4 devices, so that
changing a device's address (new one added, then old one removed) keeps the new one.
Values are only ever moved towards what the path needs: the agent never turns forwarding
off or filtering back on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clusterlink.api import constants as c
from clusterlink.api.models import NodeConfigSpec

LOOSE_RP_FILTER = "2"


@dataclass(frozen=True, slots=True)
class Setting:
    """One sysctl, by its ``/proc/sys`` path relative key; ``device`` must exist first."""

    key: str
    value: str
    device: str | None = None


def wanted_settings(spec: NodeConfigSpec) -> list[Setting]:
    """The settings a spec needs, global ones first. Keys use ``/`` so dotted names work."""
    settings: dict[str, Setting] = {}
    families = {c.DEVICE_FAMILY[d.name] for d in spec.devices if d.name in c.DEVICE_FAMILY}
    if 4 in families:
        settings["net/ipv4/ip_forward"] = Setting("net/ipv4/ip_forward", "1")
    if 6 in families:
        key = "net/ipv6/conf/all/forwarding"
        settings[key] = Setting(key, "1")
    for device in spec.devices:
        if c.DEVICE_FAMILY.get(device.name) == 4:
            bound = f"net/ipv4/conf/{device.bind_dev}/rp_filter"
            settings[bound] = Setting(bound, LOOSE_RP_FILTER)
            own = f"net/ipv4/conf/{device.name}/rp_filter"
            settings[own] = Setting(own, LOOSE_RP_FILTER, device.name)
            promote = f"net/ipv4/conf/{device.name}/promote_secondaries"
            settings[promote] = Setting(promote, "1", device.name)
        elif c.DEVICE_FAMILY.get(device.name) == 6:
            own = f"net/ipv6/conf/{device.name}/disable_ipv6"
            settings[own] = Setting(own, "0", device.name)
    return list(settings.values())


def settings_to_write(
    wanted: list[Setting], current: Mapping[str, str], recreated: frozenset[str]
) -> list[Setting]:
    """Settings whose value differs; a re-created device starts from kernel defaults."""
    return [
        s
        for s in wanted
        if current.get(s.key) != s.value or (s.device is not None and s.device in recreated)
    ]
