"""What a lab created, written down as it is created, so ``down`` can remove exactly that.

The state file (``<state root>/<lab>/state.json``) lists the lab's options, its store
URLs, every namespace *before* it is created and every process right after it starts
(PID plus its kernel start time, so a recycled PID is never signalled). It is rewritten
atomically after each step: after a crash halfway through ``up`` it still names
everything that may exist. Process logs and the sqlite stores live next to it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterlink.lab.addressing import LabSpec

DEFAULT_STATE_ROOT = Path("/var/run/clusterlink-lab")
STATE_DIR_ENV = "CLUSTERLINK_LAB_STATE_DIR"  # overrides DEFAULT_STATE_ROOT
STATE_FILE = "state.json"


class LabStateError(RuntimeError):
    """The lab's state is missing or unreadable; the message says which lab and where."""


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One component process the lab started."""

    role: str  # network-manager, controller-manager, elector, agent
    cluster: str  # "" for the control plane
    node: str  # "" when not bound to a node
    namespace: str
    pid: int
    start_time: int  # /proc/<pid>/stat field 22: tells this process from a later one
    argv: tuple[str, ...]
    log: str

    @property
    def label(self) -> str:
        where = "/".join(p for p in (self.cluster, self.node) if p)
        return f"{self.role} {where}".strip()


@dataclass(frozen=True, slots=True)
class LabState:
    spec: LabSpec
    directory: str
    control_store: str
    member_stores: dict[str, str]  # cluster name -> store URL
    namespaces: tuple[str, ...] = ()
    processes: tuple[ProcessRecord, ...] = ()
    fallbacks: tuple[str, ...] = ()  # components the lab stood in for, see lab.stand_ins
    killed_nodes: tuple[str, ...] = ()  # "cluster/node" paths cut by kill-node

    @property
    def logs_dir(self) -> Path:
        return Path(self.directory) / "logs"

    def with_namespace(self, name: str) -> LabState:
        if name in self.namespaces:
            return self
        return dataclasses.replace(self, namespaces=(*self.namespaces, name))

    def with_process(self, record: ProcessRecord) -> LabState:
        return dataclasses.replace(self, processes=(*self.processes, record))

    def without_processes(self, pids: set[int]) -> LabState:
        kept = tuple(p for p in self.processes if p.pid not in pids)
        return dataclasses.replace(self, processes=kept)

    def with_killed_node(self, path: str, killed: bool) -> LabState:
        others = tuple(p for p in self.killed_nodes if p != path)
        return dataclasses.replace(self, killed_nodes=(*others, path) if killed else others)

    def with_fallbacks(self, fallbacks: tuple[str, ...]) -> LabState:
        return dataclasses.replace(self, fallbacks=fallbacks)


def lab_directory(state_root: Path, name: str) -> Path:
    return state_root / name


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve().as_posix().lstrip('/')}"


def new_state(spec: LabSpec, state_root: Path, clusters: tuple[str, ...]) -> LabState:
    directory = lab_directory(state_root.resolve(), spec.name)
    stores = directory / "stores"
    return LabState(
        spec=spec,
        directory=str(directory),
        control_store=sqlite_url(stores / "control.db"),
        member_stores={name: sqlite_url(stores / f"{name}.db") for name in clusters},
    )


def save_state(state: LabState) -> None:
    """Write atomically: a reader sees the old or the new file, never half of one."""
    directory = Path(state.directory)
    directory.mkdir(parents=True, exist_ok=True)
    document = dataclasses.asdict(state)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".state-", suffix=".json")
    with os.fdopen(handle, "w") as file:
        json.dump(document, file, indent=2)
    os.replace(temporary, directory / STATE_FILE)


def load_state(state_root: Path, name: str) -> LabState:
    path = lab_directory(state_root, name) / STATE_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabStateError(
            f"no lab named {name!r} (no state file {path}); start one with: kosmosctl lab up "
            f"--name {name}"
        ) from None
    except (OSError, ValueError) as exc:
        raise LabStateError(f"cannot read the state of lab {name!r} at {path}: {exc}") from None
    return _state_from(document)


def _state_from(document: dict[str, Any]) -> LabState:
    return LabState(
        spec=LabSpec(**document["spec"]),
        directory=document["directory"],
        control_store=document["control_store"],
        member_stores=dict(document["member_stores"]),
        namespaces=tuple(document["namespaces"]),
        processes=tuple(
            ProcessRecord(**{**p, "argv": tuple(p["argv"])}) for p in document["processes"]
        ),
        fallbacks=tuple(document.get("fallbacks", ())),
        killed_nodes=tuple(document.get("killed_nodes", ())),
    )


def lab_exists(state_root: Path, name: str) -> bool:
    return (lab_directory(state_root, name) / STATE_FILE).exists()


def remove_state(state: LabState) -> None:
    """Remove the lab's directory: state file, stores and logs."""
    shutil.rmtree(state.directory, ignore_errors=True)
