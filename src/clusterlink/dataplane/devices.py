"""Our four VXLAN devices: which to create, change in place, re-create or delete.

Pure. A device is re-created only when the kernel cannot change what differs (VNI, UDP
port, local address, bound interface, learning); MAC, MTU, up state and addresses change in
place, so routes and neighbours through it never flap. A device named like ours that is not
a VXLAN device is someone else's and is left alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from clusterlink.api import constants as c
from clusterlink.api.models import Device
from clusterlink.dataplane.state import Link, Vxlan

OVERHEAD = {4: c.VXLAN_OVERHEAD_IPV4, 6: c.VXLAN_OVERHEAD_IPV6}


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """One ``ip -batch`` line and what it does to a device."""

    command: str
    action: str
    subject: str
    device: str


@dataclass(frozen=True, slots=True)
class Blocked:
    """A desired device that cannot be made, and why; its entries are left as they are."""

    device: str
    action: str
    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class DevicePlan:
    links: tuple[DeviceCommand, ...] = ()  # deletions for re-creation, creations, updates
    addresses: tuple[DeviceCommand, ...] = ()
    removals: tuple[DeviceCommand, ...] = ()  # devices no longer desired, removed last
    blocked: tuple[Blocked, ...] = ()
    fresh: frozenset[str] = frozenset()  # created or re-created: no entries yet
    vanishing: frozenset[str] = frozenset()  # re-created or removed: entries disappear
    mtus: Mapping[str, int] = field(default_factory=dict)


def plan_devices(desired: tuple[Device, ...], links: Mapping[str, Link]) -> DevicePlan:
    link_cmds: list[DeviceCommand] = []
    address_cmds: list[DeviceCommand] = []
    removals: list[DeviceCommand] = []
    blocked: list[Blocked] = []
    fresh: set[str] = set()
    vanishing: set[str] = set()
    mtus: dict[str, int] = {}
    by_name = {device.name: device for device in desired}
    for name in c.DEVICE_NAMES:
        actual = links.get(name)
        device = by_name.get(name)
        if device is None:
            if actual is not None and actual.vxlan is not None:
                removals.append(DeviceCommand(f"link del {name}", "delete", f"link {name}", name))
                vanishing.add(name)
            continue
        family = c.DEVICE_FAMILY[name]
        bound = links.get(device.bind_dev)
        reason = _blocking_reason(device, actual, bound)
        if reason is not None or bound is None:
            verb = "create" if actual is None else "update"
            blocked.append(Blocked(name, verb, f"link {name}", reason or ""))
            continue
        local = bound.global_addresses(family)[0].split("/")[0]
        mtu = bound.mtu - OVERHEAD[family]
        mtus[name] = mtu
        create = (
            f"link add {name} up address {device.mac.lower()} mtu {mtu} type vxlan"
            f" id {device.id} dstport {device.port} local {local} dev {device.bind_dev}"
            " nolearning"
        )
        subject = (
            f"link {name} vxlan id {device.id} dstport {device.port} local {local}"
            f" dev {device.bind_dev} address {device.mac.lower()} mtu {mtu}"
        )
        current_addresses: list[str] = []
        if actual is None:
            link_cmds.append(DeviceCommand(create, "create", subject, name))
            fresh.add(name)
        elif actual.vxlan is not None and _needs_recreation(actual.vxlan, device, local):
            link_cmds.append(DeviceCommand(f"link del {name}", "delete", f"link {name}", name))
            link_cmds.append(DeviceCommand(create, "recreate", subject, name))
            fresh.add(name)
            vanishing.add(name)
        else:
            changes = _in_place(actual, device, mtu)
            if changes:
                words = " ".join(changes)
                link_cmds.append(
                    DeviceCommand(
                        f"link set {name} {words}", "update", f"link {name} {words}", name
                    )
                )
            current_addresses = actual.global_addresses()
        address_cmds += _addresses(name, family, device.addr, current_addresses)
    return DevicePlan(
        tuple(link_cmds),
        tuple(address_cmds),
        tuple(removals),
        tuple(blocked),
        frozenset(fresh),
        frozenset(vanishing),
        mtus,
    )


def _blocking_reason(device: Device, actual: Link | None, bound: Link | None) -> str | None:
    """Why the device cannot be made or kept up to date, if it cannot."""
    if actual is not None and actual.vxlan is None:
        kind = actual.kind or "no kind"
        return f"{device.name} exists and is not a VXLAN device ({kind}); left alone"
    if bound is None:
        return f"bound interface {device.bind_dev} does not exist"
    family = c.DEVICE_FAMILY[device.name]
    if not bound.global_addresses(family):
        return f"bound interface {device.bind_dev} has no global IPv{family} address"
    return None


def _needs_recreation(vxlan: Vxlan, device: Device, local: str) -> bool:
    return (
        vxlan.vni != device.id
        or vxlan.port != device.port
        or vxlan.link != device.bind_dev
        or vxlan.learning
        or vxlan.local is None
        or ipaddress.ip_address(vxlan.local) != ipaddress.ip_address(local)
    )


def _in_place(actual: Link, device: Device, mtu: int) -> list[str]:
    changes: list[str] = []
    if actual.mac != device.mac.lower():
        changes += ["address", device.mac.lower()]
    if actual.mtu != mtu:
        changes += ["mtu", str(mtu)]
    if not actual.up:
        changes.append("up")
    return changes


def _addresses(name: str, family: int, wanted: str, current: list[str]) -> list[DeviceCommand]:
    """Add the spec's address first, then remove any other global address of the device."""
    target = ipaddress.ip_interface(wanted)
    present = [ipaddress.ip_interface(text) for text in current]
    commands: list[DeviceCommand] = []
    if target not in present:
        # DAD would keep the address tentative (unusable) for a second or two; uniqueness of
        # tunnel addresses is the planner's job.
        nodad = " nodad" if family == 6 else ""
        commands.append(
            DeviceCommand(
                f"addr replace {target} dev {name}{nodad}",
                "create",
                f"addr {target} dev {name}",
                name,
            )
        )
    for address in present:
        if address != target:
            commands.append(
                DeviceCommand(
                    f"addr del {address} dev {name}", "delete", f"addr {address} dev {name}", name
                )
            )
    return commands
