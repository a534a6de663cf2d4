"""The floater component over a real store: it registers, answers the plans addressed to
it with a result ConfigMap, rejects malformed plans in its answer, and deregisters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.floater.daemon import Floater
from clusterlink.floater.messages import (
    FloaterInfo,
    parse_registration,
    plan_document,
    registration_name,
    result_from,
    result_name,
)
from clusterlink.floater.outcome import PlanOutcome
from clusterlink.floater.plan import ProbePlan, Target
from clusterlink.store import NotFoundError, ObjectStore, open_store

NAMESPACE = "kosmos-system"
BOUND = 20.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    opened = open_store(f"sqlite:///{tmp_path.as_posix().lstrip('/')}/member.db")
    yield opened
    opened.close()


@pytest.fixture
def floater(store: ObjectStore) -> Iterator[Floater]:
    info = FloaterInfo("c1-n1-pod1", "cluster1", "node1", "pod", ("127.0.0.1", "::1"), port=0)
    running = Floater(store, info, NAMESPACE)
    running.start()
    yield running
    running.stop()


def wait_for_result(store: ObjectStore, run: str, name: str) -> PlanOutcome:
    deadline = time.monotonic() + BOUND
    while True:
        try:
            return result_from(store.get("ConfigMap", result_name(run, name), NAMESPACE))
        except NotFoundError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no result for run {run} within {BOUND} s") from None
            time.sleep(0.05)


def test_a_started_floater_registers_its_addresses_and_real_port(
    store: ObjectStore, floater: Floater
) -> None:
    registered = parse_registration(
        store.get("ConfigMap", registration_name("c1-n1-pod1"), NAMESPACE)
    )

    assert registered.addresses == ("127.0.0.1", "::1")
    assert registered.port == floater.port != 0
    assert registered.node_config == "cluster1-node1"


def test_a_plan_addressed_to_the_floater_is_answered_in_the_store(
    store: ObjectStore, floater: Floater
) -> None:
    targets = (
        Target("self.v4", "127.0.0.1", floater.port, ("tcp", "http")),
        Target("self.v6", "::1", floater.port, ("tcp",)),
    )
    store.create(plan_document(ProbePlan("run1", "c1-n1-pod1", targets), NAMESPACE))

    result = wait_for_result(store, "run1", "c1-n1-pod1")

    assert result.error == ""
    assert {(o.target, o.protocol, o.success) for o in result.outcomes} == {
        ("self.v4", "tcp", True),
        ("self.v4", "http", True),
        ("self.v6", "tcp", True),
    }


def test_plans_for_other_floaters_are_left_alone(store: ObjectStore, floater: Floater) -> None:
    store.create(plan_document(ProbePlan("run2", "someone-else", ()), NAMESPACE))
    store.create(plan_document(ProbePlan("run3", "c1-n1-pod1", ()), NAMESPACE))

    wait_for_result(store, "run3", "c1-n1-pod1")

    with pytest.raises(NotFoundError):
        store.get("ConfigMap", result_name("run2", "c1-n1-pod1"), NAMESPACE)


def test_a_malformed_plan_is_answered_with_the_reason(store: ObjectStore, floater: Floater) -> None:
    document: dict[str, Any] = plan_document(ProbePlan("run4", "c1-n1-pod1", ()), NAMESPACE)
    bad = {"run": "run4", "floater": "c1-n1-pod1", "targets": [{"address": "evil; reboot"}]}
    document["data"]["plan.json"] = json.dumps(bad)
    store.create(document)

    result = wait_for_result(store, "run4", "c1-n1-pod1")

    assert result.outcomes == ()
    assert result.error.startswith("plan rejected: targets[0]")


def test_a_stopped_floater_removes_its_registration(store: ObjectStore, floater: Floater) -> None:
    deadline = time.monotonic() + BOUND
    while not floater.ready and time.monotonic() < deadline:
        time.sleep(0.05)

    floater.stop()

    with pytest.raises(NotFoundError):
        store.get("ConfigMap", registration_name("c1-n1-pod1"), NAMESPACE)
