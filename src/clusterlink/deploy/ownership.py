"""Which objects a ``kosmosctl`` command created, told by labels on the objects themselves.

``unjoin`` and ``uninstall`` must remove exactly what ``join`` and ``install`` created, even
after a crash, an upgrade that renamed something, or from another machine: so nothing is
remembered locally. Every created object carries ``app.kubernetes.io/managed-by: kosmosctl``
and one owner label (``kosmos.io/joined-cluster: <name>`` for a join, ``kosmos.io/installed:
control-plane`` for an install, ``kosmos.io/doctor: floaters`` for the floaters ``dr``
deploys); an object that existed before is never relabelled, so it is never removed either.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "kosmosctl"
JOINED_CLUSTER: Final = "kosmos.io/joined-cluster"
INSTALLED: Final = "kosmos.io/installed"
CONTROL_PLANE: Final = "control-plane"
DOCTOR: Final = "kosmos.io/doctor"
FLOATERS: Final = "floaters"


@dataclass(frozen=True, slots=True)
class Owner:
    """The command run that creates objects: its label ``key=value`` marks them."""

    key: str
    value: str

    @classmethod
    def join(cls, cluster: str) -> Owner:
        return cls(JOINED_CLUSTER, cluster)

    @classmethod
    def install(cls) -> Owner:
        return cls(INSTALLED, CONTROL_PLANE)

    @classmethod
    def doctor(cls) -> Owner:
        return cls(DOCTOR, FLOATERS)

    @property
    def labels(self) -> dict[str, str]:
        return {MANAGED_BY: MANAGER, self.key: self.value}

    @property
    def selector(self) -> str:
        """The label selector of every object this owner created."""
        return f"{MANAGED_BY}={MANAGER},{self.key}={self.value}"

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    def stamp(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``manifest`` carrying this owner's labels."""
        stamped = copy.deepcopy(dict(manifest))
        metadata = stamped.setdefault("metadata", {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **self.labels}
        return stamped

    def owns(self, obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(labels.get(key) == value for key, value in self.labels.items())
