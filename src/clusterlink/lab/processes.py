"""Start, check and stop the lab's component processes, each inside its namespace.

Each component runs exactly as a Kubernetes pod would run it, ``clusterlink <component>
...``, started as ``ip netns exec <namespace> <this python> -m clusterlink.cli.components``
in its own session (it outlives ``kosmosctl``), with its output in its own log file.
Processes are stopped by PID only, and only when the PID still belongs to the process the
lab started (same kernel start time).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from clusterlink.lab.state import ProcessRecord

COMPONENTS_MODULE = "clusterlink.cli.components"
STOP_TIMEOUT = 5.0
_POLL = 0.05


def component_command(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", COMPONENTS_MODULE, *args)


class ComponentsError(RuntimeError):
    """The ``clusterlink`` component commands cannot be loaded, so none could run."""


def available_components() -> frozenset[str]:
    """The ``clusterlink`` subcommands this installation has.

    Loaded on demand, so that a broken component breaks ``lab up`` with a clear message
    and not every ``kosmosctl`` command.
    """
    try:
        group = importlib.import_module(COMPONENTS_MODULE).main
        context = click.Context(group)
        return frozenset(
            name for name in group.list_commands(context) if group.get_command(context, name)
        )
    except Exception as exc:
        raise ComponentsError(f"cannot load {COMPONENTS_MODULE}: {exc!r}") from exc


def process_start_time(pid: int) -> int | None:
    """The kernel start time of ``pid``, or None when it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    state, start_time = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return None
    return start_time


def is_running(record: ProcessRecord) -> bool:
    return process_start_time(record.pid) == record.start_time


def start_component(
    *,
    role: str,
    cluster: str,
    node: str,
    namespace: str,
    args: Sequence[str],
    log_path: Path,
) -> ProcessRecord:
    """Start ``clusterlink <args>`` in ``namespace``; its output goes to ``log_path``."""
    argv = ("ip", "netns", "exec", namespace, *component_command(*args))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    start_time = process_start_time(process.pid)
    return ProcessRecord(
        role=role,
        cluster=cluster,
        node=node,
        namespace=namespace,
        pid=process.pid,
        start_time=start_time if start_time is not None else -1,
        argv=argv,
        log=str(log_path),
    )


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (no zombie left)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(record: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_running(record):
            return True
        time.sleep(_POLL)
    return not is_running(record)


def stop_process(record: ProcessRecord, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; a PID that is no longer ours is left alone."""
    if not is_running(record):
        _reap(record.pid)
        return
    os.kill(record.pid, signal.SIGTERM)
    if not _wait_gone(record, timeout):
        os.kill(record.pid, signal.SIGKILL)
        _wait_gone(record, timeout)


def stop_processes(records: Sequence[ProcessRecord], timeout: float = STOP_TIMEOUT) -> None:
    """Stop several at once: SIGTERM to all, then wait (and SIGKILL) one by one."""
    for record in records:
        if is_running(record):
            os.kill(record.pid, signal.SIGTERM)
    for record in records:
        stop_process(record, timeout)


def kill_processes(records: Sequence[ProcessRecord], timeout: float = STOP_TIMEOUT) -> None:
    """SIGKILL, as a crashed node: nothing is released or written on the way out."""
    for record in records:
        if is_running(record):
            os.kill(record.pid, signal.SIGKILL)
    for record in records:
        _wait_gone(record, timeout)


def kill_pid(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a process found inside one of the lab's namespaces (e.g. a ``lab exec``)."""
    start_time = process_start_time(pid)
    if start_time is None:
        return
    record = ProcessRecord("leftover", "", "", "", pid, start_time, (), "")
    stop_process(record, timeout)
