"""Leader election on a Lease: one leader at a time, fast takeover."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterlink.controllers.leader import LeaderElector, LeaseTiming
from clusterlink.store import ObjectStore
from tests.controllers.support import eventually, sqlite_store

FAST = LeaseTiming(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = sqlite_store(tmp_path)
    yield opened
    opened.close()


def elector(store: ObjectStore, identity: str) -> LeaderElector:
    return LeaderElector(store, "elector", "kosmos-system", identity, FAST)


def test_exactly_one_candidate_leads(store: ObjectStore) -> None:
    candidates = [elector(store, name) for name in ("one", "two", "three")]
    for candidate in candidates:
        candidate.start()
    try:
        eventually(lambda: any(c.is_leader for c in candidates))
        for _ in range(10):
            assert sum(c.is_leader for c in candidates) == 1
            time.sleep(0.05)
        holder = store.get("Lease", "elector", "kosmos-system")["spec"]["holderIdentity"]
        assert holder == next(c.identity for c in candidates if c.is_leader)
    finally:
        for candidate in candidates:
            candidate.stop()


def test_a_released_lease_is_taken_over_without_waiting_for_it_to_expire(
    store: ObjectStore,
) -> None:
    slow = LeaseTiming(lease_duration=60.0, renew_deadline=30.0, retry_period=0.1)
    first = LeaderElector(store, "elector", "kosmos-system", "first", slow)
    second = LeaderElector(store, "elector", "kosmos-system", "second", slow)
    first.start()
    eventually(lambda: first.is_leader)
    second.start()
    try:
        time.sleep(0.3)
        assert not second.is_leader
        first.stop(release=True)
        eventually(lambda: second.is_leader, timeout=10)  # far less than the 60 s lease
    finally:
        second.stop()


def test_a_crashed_leader_is_replaced_after_the_lease_expires(store: ObjectStore) -> None:
    first, second = elector(store, "first"), elector(store, "second")
    first.start()
    eventually(lambda: first.is_leader)
    second.start()
    try:
        first.stop(release=False)  # as a crash: the lease is left behind
        eventually(lambda: second.is_leader, timeout=5)
        lease = store.get("Lease", "elector", "kosmos-system")["spec"]
        assert lease["holderIdentity"] == "second"
        assert lease["leaseTransitions"] == 1
    finally:
        second.stop()


def test_inconsistent_timing_is_rejected() -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaseTiming(lease_duration=1.0, renew_deadline=2.0, retry_period=0.1)
