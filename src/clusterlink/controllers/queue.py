"""A de-duplicating work queue with per-key backoff, the heart of a level-triggered loop.

Semantics of client-go's workqueue: a key is queued at most once; a key added while it is
being processed is processed again afterwards (never twice at once); failed keys come back
after an exponentially growing delay that resets when they succeed.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """Delay of the n-th consecutive failure: ``base * 2**n``, at most ``cap`` seconds."""

    base: float = 0.05
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap, self.base * 2.0 ** min(failures, 32)))


@dataclass
class WorkQueue(Generic[K]):
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    _queue: list[K] = field(default_factory=list)
    _queued: set[K] = field(default_factory=set)
    _processing: set[K] = field(default_factory=set)
    _again: set[K] = field(default_factory=set)
    _delayed: list[tuple[float, int, K]] = field(default_factory=list)
    _failures: dict[K, int] = field(default_factory=dict)
    _sequence: int = 0
    _closed: bool = False
    _condition: threading.Condition = field(default_factory=threading.Condition)

    def add(self, key: K) -> None:
        with self._condition:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._closed:
            return
        if key in self._processing:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.append(key)
            self._condition.notify()

    def add_after(self, key: K, delay: float) -> None:
        with self._condition:
            self._sequence += 1
            heapq.heappush(self._delayed, (self.clock() + delay, self._sequence, key))
            self._condition.notify()

    def retry(self, key: K) -> float:
        """Queue a failed key again after its backoff; returns the delay chosen."""
        with self._condition:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = self.backoff.delay(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts the backoff from the beginning."""
        with self._condition:
            self._failures.pop(key, None)

    def get(self, timeout: float | None = None) -> K | None:
        """The next key to process (mark it done afterwards), or None on timeout/close."""
        deadline = None if timeout is None else self.clock() + timeout
        with self._condition:
            while True:
                self._promote_due()
                if self._queue:
                    key = self._queue.pop(0)
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                if self._closed:
                    return None
                wait = None if deadline is None else deadline - self.clock()
                if self._delayed:
                    due = self._delayed[0][0] - self.clock()
                    wait = due if wait is None else min(wait, due)
                if wait is not None and wait <= 0:
                    if deadline is not None and self.clock() >= deadline:
                        return None
                    continue
                self._condition.wait(wait)

    def _promote_due(self) -> None:
        now = self.clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            self._add_locked(key)

    def done(self, key: K) -> None:
        with self._condition:
            self._processing.discard(key)
            if key in self._again:
                self._again.discard(key)
                self._add_locked(key)

    def __len__(self) -> int:
        with self._condition:
            return len(self._queue) + len(self._delayed)

    def shutdown(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
