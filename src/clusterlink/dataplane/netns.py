"""Where commands run: the host, or one named network namespace, never created here.

Every kernel interaction of the data plane goes through an iproute2/iptables/sysctl process;
this module prefixes their argument vectors so they act in the right namespace and runs them,
several at once when they are independent (reads of a large state are dominated by the
kernel dump and the tool's formatting, so running them side by side halves the wait).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

NETNS_DIR = "/run/netns"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


class NamespaceError(RuntimeError):
    """The named network namespace cannot be used (bad name or not present)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True, slots=True)
class Namespace:
    """The host (``name`` None) or the network namespace ``/run/netns/<name>``."""

    name: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and (not _NAME.match(self.name) or self.name in (".", "..")):
            raise NamespaceError(f"invalid network namespace name {self.name!r}")

    def check_exists(self) -> None:
        """Fail clearly instead of letting a typo create or hit an unrelated namespace."""
        if self.name is not None and not os.path.exists(os.path.join(NETNS_DIR, self.name)):
            raise NamespaceError(f"network namespace {self.name!r} does not exist")

    def ip(self, *args: str) -> tuple[str, ...]:
        return ("ip", *self._netns_option(), *args)

    def bridge(self, *args: str) -> tuple[str, ...]:
        return ("bridge", *self._netns_option(), *args)

    def exec(self, *args: str) -> tuple[str, ...]:
        """Any other program, entered into the namespace's network only (not its mounts)."""
        if self.name is None:
            return args
        return ("nsenter", f"--net={os.path.join(NETNS_DIR, self.name)}", "--", *args)

    def _netns_option(self) -> tuple[str, ...]:
        return () if self.name is None else ("-n", self.name)


def run(argv: Sequence[str], stdin: str | None = None) -> CommandResult:
    """Run one command to completion; a missing program is a failed result, not an exception."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=300
        )
    except FileNotFoundError as exc:
        return CommandResult(tuple(argv), 127, "", f"{argv[0]}: not installed ({exc.strerror})")
    return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)


def run_all(
    commands: Sequence[Sequence[str]], stdins: Sequence[str | None] | None = None
) -> list[CommandResult]:
    """Run independent commands concurrently and return their results in order.

    Output goes to anonymous in-memory files rather than pipes: a pipe would block each
    writer on its 64 KiB buffer until this process got round to draining it, serialising
    them again (and files on disk cost milliseconds each to create on a busy host).
    """
    inputs = list(stdins) if stdins is not None else [None] * len(commands)
    with ExitStack() as files:
        started: list[tuple[Sequence[str], subprocess.Popen[bytes] | None, IO[bytes], IO[bytes]]]
        started = []
        for argv, text in zip(commands, inputs, strict=True):
            source: IO[bytes] | int = subprocess.DEVNULL
            if text is not None:
                source = files.enter_context(_memory_file())
                source.write(text.encode())
                source.seek(0)
            out = files.enter_context(_memory_file())
            err = files.enter_context(_memory_file())
            try:
                process: subprocess.Popen[bytes] | None = subprocess.Popen(
                    list(argv), stdin=source, stdout=out, stderr=err
                )
            except FileNotFoundError:
                process = None
            started.append((argv, process, out, err))
        results: list[CommandResult] = []
        for argv, process, out, err in started:
            if process is None:
                results.append(CommandResult(tuple(argv), 127, "", f"{argv[0]}: not installed"))
                continue
            returncode = process.wait()
            results.append(CommandResult(tuple(argv), returncode, _read_back(out), _read_back(err)))
        return results


def _memory_file() -> IO[bytes]:
    return os.fdopen(os.memfd_create("clusterlink", os.MFD_CLOEXEC), "w+b")


def _read_back(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")
