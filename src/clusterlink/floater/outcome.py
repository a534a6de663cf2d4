"""What one probe found, and what one plan found: success, loss, RTTs and the error text.

Kept as plain frozen data with a JSON form, because results travel back through the store
and are read by another program (the doctor) than the one that wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One protocol against one target. RTTs are in milliseconds; ``mtu`` is the largest
    packet (IP header included) that passed with don't-fragment, for the ``mtu`` probe."""

    target: str  # the target's id in the plan
    address: str
    protocol: str
    sent: int
    received: int
    rtt_min: float | None = None
    rtt_avg: float | None = None
    rtt_max: float | None = None
    error: str = ""
    mtu: int | None = None

    @property
    def success(self) -> bool:
        return self.received > 0 and not self.error

    @property
    def loss(self) -> float:
        return 1.0 if self.sent == 0 else 1.0 - self.received / self.sent

    @classmethod
    def from_rtts(
        cls,
        target: str,
        address: str,
        protocol: str,
        *,
        sent: int,
        rtts: Sequence[float],
        error: str = "",
    ) -> ProbeOutcome:
        """Statistics of the answered attempts; the error is kept only when none answered."""
        if not rtts:
            return cls(target, address, protocol, sent, 0, error=error or "no reply")
        return cls(
            target,
            address,
            protocol,
            sent,
            len(rtts),
            rtt_min=round(min(rtts), 3),
            rtt_avg=round(sum(rtts) / len(rtts), 3),
            rtt_max=round(max(rtts), 3),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "address": self.address,
            "protocol": self.protocol,
            "success": self.success,
            "sent": self.sent,
            "received": self.received,
            "loss": round(self.loss, 3),
            "rttMin": self.rtt_min,
            "rttAvg": self.rtt_avg,
            "rttMax": self.rtt_max,
            "error": self.error,
            "mtu": self.mtu,
        }

    def to_wire(self) -> dict[str, Any]:
        """The document without what :meth:`from_document` derives or defaults (success,
        loss, empty error, absent RTTs and MTU): a result carries one per probe, and every
        watcher of the cluster's ConfigMaps reads it, so its size is paid many times over."""
        document: dict[str, Any] = {
            "target": self.target,
            "address": self.address,
            "protocol": self.protocol,
            "sent": self.sent,
            "received": self.received,
        }
        if self.rtt_min is not None:
            document["rttMin"] = self.rtt_min
            document["rttAvg"] = self.rtt_avg
            document["rttMax"] = self.rtt_max
        if self.error:
            document["error"] = self.error
        if self.mtu is not None:
            document["mtu"] = self.mtu
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ProbeOutcome:
        return cls(
            target=str(document["target"]),
            address=str(document["address"]),
            protocol=str(document["protocol"]),
            sent=int(document["sent"]),
            received=int(document["received"]),
            rtt_min=document.get("rttMin"),
            rtt_avg=document.get("rttAvg"),
            rtt_max=document.get("rttMax"),
            error=str(document.get("error") or ""),
            mtu=document.get("mtu"),
        )


@dataclass(frozen=True, slots=True)
class RouteLookup:
    """Where this namespace's kernel sends packets for ``address`` (``ip route get``)."""

    address: str
    dev: str = ""
    gateway: str = ""
    error: str = ""

    def to_document(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "dev": self.dev,
            "gateway": self.gateway,
            "error": self.error,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RouteLookup:
        return cls(
            str(document["address"]),
            str(document.get("dev") or ""),
            str(document.get("gateway") or ""),
            str(document.get("error") or ""),
        )


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """The answer to one plan: every probe's outcome, or why the plan was rejected."""

    run: str
    floater: str
    outcomes: tuple[ProbeOutcome, ...]
    seconds: float
    error: str = ""
    routes: tuple[RouteLookup, ...] = ()

    def to_document(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "floater": self.floater,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "outcomes": [outcome.to_document() for outcome in self.outcomes],
            "routes": [route.to_document() for route in self.routes],
        }

    def to_wire(self) -> dict[str, Any]:
        """:meth:`to_document` with each outcome in its :meth:`ProbeOutcome.to_wire` form,
        as results travel through the store."""
        return {
            "run": self.run,
            "floater": self.floater,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "outcomes": [outcome.to_wire() for outcome in self.outcomes],
            "routes": [route.to_document() for route in self.routes],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> PlanOutcome:
        return cls(
            run=str(document["run"]),
            floater=str(document["floater"]),
            outcomes=tuple(ProbeOutcome.from_document(o) for o in document.get("outcomes", [])),
            seconds=float(document.get("seconds", 0.0)),
            error=str(document.get("error") or ""),
            routes=tuple(RouteLookup.from_document(r) for r in document.get("routes", [])),
        )
