"""Waking a sqlite store's watches when the database file changes, instead of polling it.

Every commit in WAL mode writes the ``-wal`` file (a checkpoint writes the database file),
and the kernel's inotify reports those writes from any process on the host, whatever its
network namespace. So one thread per store and process reads inotify events for the
database's directory and counts the writes to its files; a watch with nothing to report
sleeps until that count moves. An idle component then costs no CPU at all where twenty
polls a second per watch used to add up to a quarter of a core in a lab of twenty
processes, and a change is seen at once instead of after up to a poll interval.

Watches still poll now and then (a safety net, e.g. for writes through another mount of the
file), and fall back to plain polling where inotify is unavailable (no Linux, limits
exhausted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from inotify_simple import INotify, flags

log = logging.getLogger(__name__)

_WRITES = flags.MODIFY | flags.CREATE | flags.MOVED_TO | flags.CLOSE_WRITE
_READ_TIMEOUT_MS = 500  # how soon the reader thread notices close()


class FileChanges:
    """A counter of writes to one database's files, and waiting for it to move."""

    def __init__(self, database: Path) -> None:
        self._directory = database.resolve().parent
        self._prefix = database.name
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
            inotify.add_watch(str(self._directory), _WRITES)
        except OSError as exc:
            log.info("no inotify for %s (%s): sqlite watches poll", self._directory, exc)
            self._available = False
            return
        reader = threading.Thread(
            target=self._read, args=(inotify,), name=f"sqlite-changes:{self._prefix}", daemon=True
        )
        reader.start()

    def _read(self, inotify: INotify) -> None:
        try:
            while not self._closed.is_set():
                events = inotify.read(timeout=_READ_TIMEOUT_MS)
                if any(self._concerns(event.name, event.mask) for event in events):
                    with self._condition:
                        self._writes += 1
                        self._condition.notify_all()
        except OSError as exc:
            log.warning("inotify for %s failed (%s): sqlite watches poll", self._directory, exc)
            self._available = False
            self.wake()
        finally:
            inotify.close()

    def _concerns(self, name: str, mask: int) -> bool:
        return bool(mask & flags.Q_OVERFLOW) or name.startswith(self._prefix)
