"""Waking a sqlite store's watches when the database file changes, instead of polling it.

Every commit in WAL mode writes the ``-wal`` file (a checkpoint writes the database file),
and the kernel's inotify reports those writes from any process on the host, whatever its
network namespace. So one thread per store and process counts the writes to that
database's two files; a watch with nothing to report sleeps until that count moves. An
idle component then costs next to no CPU, where twenty polls a second per watch used to
add up to a quarter of a core in a lab of twenty processes.

Only the database's own files are watched (the directory only for their creation: the WAL
is recreated after the last connection closes), because stores often share a directory:
watching the directory would wake every process of a lab for every other store's writes.
A commit writes several times; the reader collects them for a moment and counts one.

Watches still poll now and then (a safety net), and fall back to plain polling where
inotify is unavailable (no Linux, limits exhausted).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from inotify_simple import INotify, flags

log = logging.getLogger(__name__)

_FILE_WRITES = flags.MODIFY
_CREATIONS = flags.CREATE | flags.MOVED_TO
_READ_TIMEOUT_MS = 500  # how soon the reader thread notices close()
_COALESCE_MS = 2  # after a first event, wait this long for the rest of the commit's writes


class FileChanges:
    """A counter of writes to one database's files, and waiting for it to move."""

    def __init__(self, database: Path) -> None:
        resolved = database.resolve()
        self._directory = resolved.parent
        self._names = (resolved.name, f"{resolved.name}-wal")
        self._writes = 0
        self._condition = threading.Condition()
        self._started = False
        self._available = True
        self._closed = threading.Event()

    @property
    def available(self) -> bool:
        """False once inotify turned out to be unusable here: watches must poll."""
        self._start()
        return self._available

    def writes(self) -> int:
        """The current count; read it before a poll and wait for a change after it."""
        with self._condition:
            return self._writes

    def wait_for_write(self, seen: int, timeout: float, stop: Callable[[], bool]) -> None:
        """Until a write after ``seen``, ``stop()`` is true (see :meth:`wake`), or ``timeout``."""
        with self._condition:
            self._condition.wait_for(lambda: self._writes != seen or stop(), timeout)

    def wake(self) -> None:
        """Let every waiter re-check its ``stop`` condition."""
        with self._condition:
            self._condition.notify_all()

    def close(self) -> None:
        self._closed.set()
        self.wake()

    def _start(self) -> None:
        with self._condition:
            if self._started:
                return
            self._started = True
        try:
            inotify = INotify()
            directory = inotify.add_watch(str(self._directory), _CREATIONS)
            for name in self._names:
                self._watch_file(inotify, name)
        except OSError as exc:
            log.info("no inotify for %s (%s): sqlite watches poll", self._directory, exc)
            self._available = False
            return
        reader = threading.Thread(
            target=self._read,
            args=(inotify, directory),
            name=f"sqlite-changes:{self._names[0]}",
            daemon=True,
        )
        reader.start()

    def _watch_file(self, inotify: INotify, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # the directory watch reports it later
            inotify.add_watch(str(self._directory / name), _FILE_WRITES)

    def _read(self, inotify: INotify, directory: int) -> None:
        try:
            while not self._closed.is_set():
                events = inotify.read(timeout=_READ_TIMEOUT_MS, read_delay=_COALESCE_MS)
                wrote = False
                for event in events:
                    if event.mask & flags.Q_OVERFLOW:
                        wrote = True
                    elif event.wd != directory:
                        wrote = wrote or bool(event.mask & _FILE_WRITES)
                    elif event.name in self._names:
                        self._watch_file(inotify, event.name)
                        wrote = True
                if wrote:
                    with self._condition:
                        self._writes += 1
                        self._condition.notify_all()
        except OSError as exc:
            log.warning("inotify for %s failed (%s): sqlite watches poll", self._directory, exc)
            self._available = False
            self.wake()
        finally:
            inotify.close()
