"""The work queue: each key once, never processed twice at once, failures backed off."""

from __future__ import annotations

from clusterlink.controllers.queue import Backoff, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_added_many_times_is_processed_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert [queue.get(0), queue.get(0), queue.get(0)] == ["a", "b", None]


def test_a_key_added_while_processing_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.get(0) == "a"
    queue.add("a")
    assert queue.get(0) is None  # not while it is being processed
    queue.done("a")
    assert queue.get(0) == "a"


def test_failures_back_off_exponentially_and_reset_on_success() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(backoff=Backoff(base=1.0, cap=5.0), clock=clock)
    assert [queue.retry("a") for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    queue.forget("a")
    assert queue.retry("a") == 1.0


def test_delayed_keys_wait_for_their_time() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("later", 10.0)
    assert queue.get(0) is None
    clock.now = 10.0
    assert queue.get(0) == "later"


def test_shutdown_wakes_waiters() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.shutdown()
    assert queue.get(None) is None
