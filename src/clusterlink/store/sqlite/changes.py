"""Waking a sqlite store's watches when their kind is written, instead of polling it.

After each commit a writer touches one empty file per kind it wrote, in a directory next to
the database (``cluster1.db.kinds/Lease``), and the kernel's inotify reports that to any
process on the host, whatever its network namespace. One thread per store and process
counts the touches of the kinds its watches follow; a watch with nothing to report sleeps
until its kind's count moves.

Why per kind and not the database files themselves: every commit writes the WAL, so
watching it woke every watch of a store for every write. A lab cluster's leaders renew
their Leases four times a second, and each renewal woke its dozen floaters, agents and
controllers to poll for nothing; most of an idle lab's CPU went there, and a busy store
(the doctor's plans and results are ConfigMaps) woke the controllers that follow Nodes.

Watches still poll now and then (a safety net, which also covers writers that do not touch
the files) and fall back to plain polling where inotify or the directory is unavailable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from inotify_simple import Event, INotify, flags

log = logging.getLogger(__name__)

_TOUCHED = flags.ATTRIB | flags.MODIFY
_READ_TIMEOUT_MS = 500  # how soon the reader thread notices close()
_COALESCE_MS = 2  # after a first event, wait this long for the rest of a burst


def kinds_directory(database: Path) -> Path:
    """Where the writers of ``database`` touch one file per kind written."""
    resolved = database.resolve()
    return resolved.with_name(f"{resolved.name}.kinds")


def announce_writes(directory: Path, kinds: Iterable[str]) -> None:
    """Touch the file of each kind, after the commit that wrote them is visible. A file that
    cannot be touched only costs that kind's watches their promptness: they still poll."""
    for kind in kinds:
        marker = directory / kind
        try:
            os.utime(marker)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                _create(marker)  # a watcher that appears later sees the commit in its snapshot
        except OSError as exc:
            log.debug("cannot touch %s: %s", marker, exc)


def _create(marker: Path) -> None:
    marker.parent.mkdir(exist_ok=True)
    os.close(os.open(marker, os.O_CREAT | os.O_WRONLY, 0o644))


class FileChanges:
    """Per kind, a counter of the writes announced for one database, and waiting for it."""

    def __init__(self, database: Path) -> None:
        self._directory = kinds_directory(database)
        self._writes: dict[str, int] = {}
        self._kinds: dict[int, str] = {}  # inotify watch descriptor -> kind
        self._condition = threading.Condition()
        self._inotify: INotify | None = None
        self._started = False
        self._available = True
        self._closed = threading.Event()

    @property
    def directory(self) -> Path:
        """Where this database's writers touch their kinds' files (:func:`announce_writes`)."""
        return self._directory

    @property
    def available(self) -> bool:
        """False once inotify turned out to be unusable here: watches must poll."""
        self._start()
        return self._available

    def writes(self, kind: str) -> int:
        """The current count of ``kind``; read it before a poll and wait for a change after
        it. The first call for a kind starts following it."""
        self._start()
        with self._condition:
            if kind not in self._writes and self._available:
                self._follow(kind)
            return self._writes.get(kind, 0)

    def wait_for_write(
        self, kind: str, seen: int, timeout: float, stop: Callable[[], bool]
    ) -> None:
        """Until a write of ``kind`` after ``seen``, ``stop()`` is true (see :meth:`wake`), or
        ``timeout``."""
        with self._condition:
            self._condition.wait_for(
                lambda: self._writes.get(kind, 0) != seen or stop() or not self._available,
                timeout,
            )

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
                self._directory.mkdir(exist_ok=True)
                self._inotify = INotify()
            except OSError as exc:
                self._unavailable(f"no inotify for {self._directory} ({exc})")
                return
        reader = threading.Thread(
            target=self._read,
            args=(self._inotify,),
            name=f"sqlite-changes:{self._directory.name}",
            daemon=True,
        )
        reader.start()

    def _follow(self, kind: str) -> None:
        """Watch ``kind``'s file (created if missing); called with the condition held."""
        assert self._inotify is not None
        marker = self._directory / kind
        try:
            _create(marker)
            descriptor = self._inotify.add_watch(str(marker), _TOUCHED)
        except OSError as exc:
            self._unavailable(f"cannot watch {marker} ({exc})")
            return
        self._kinds[descriptor] = kind
        self._writes.setdefault(kind, 0)

    def _unavailable(self, reason: str) -> None:
        """Called with the condition held: from now on every watch polls."""
        log.info("%s: sqlite watches poll", reason)
        self._available = False
        self._condition.notify_all()

    def _read(self, inotify: INotify) -> None:
        try:
            while not self._closed.is_set():
                events = inotify.read(timeout=_READ_TIMEOUT_MS, read_delay=_COALESCE_MS)
                if events:
                    self._count(events)
        except OSError as exc:
            with self._condition:
                self._unavailable(f"inotify for {self._directory} failed ({exc})")
        finally:
            inotify.close()

    def _count(self, events: list[Event]) -> None:
        with self._condition:
            touched: set[str] = set()
            for event in events:
                if event.mask & flags.Q_OVERFLOW:
                    touched.update(self._writes)
                elif event.wd in self._kinds:
                    kind = self._kinds[event.wd]
                    touched.add(kind)
                    if event.mask & flags.IGNORED:  # the file was removed: follow the new one
                        del self._kinds[event.wd]
                        self._follow(kind)
            for kind in touched:
                self._writes[kind] = self._writes.get(kind, 0) + 1
            if touched:
                self._condition.notify_all()
