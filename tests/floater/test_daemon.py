"""The floater component over a real store: it registers, answers the plans addressed to
it with a result ConfigMap, rejects malformed plans in its answer, and deregisters; and the
doctor's side of that exchange collects the answers as they are written."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterlink.doctor.exchange import collect_outcomes, publish_plans, remove_run
from clusterlink.doctor.matrix import Matrix, MatrixOptions
from clusterlink.floater.daemon import Floater
from clusterlink.floater.messages import (
    RUN_LABEL,
    FloaterInfo,
    parse_registration,
    plan_document,
    plan_name,
    registration_name,
    result_document,
    result_from,
    result_name,
)
from clusterlink.floater.outcome import PlanOutcome, ProbeOutcome
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


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json {", "plan.json: not JSON"),
        (
            {
                "run": "run7",
                "floater": "c1-n1-pod1",
                "targets": [{"address": "224.0.0.1", "port": 80, "protocols": ["ping"]}],
            },
            "targets[0].address: 224.0.0.1 is not a unicast address",
        ),
        (
            {"run": "run7", "floater": "c1-n1-pod1", "count": 10_000, "targets": []},
            "count: expected an integer between 1 and 100",
        ),
        (
            {
                "run": "run7",
                "floater": "c1-n1-pod1",
                "targets": [{"address": "127.0.0.1", "port": 80, "protocols": ["ping; reboot"]}],
            },
            "targets[0].protocols: unknown protocol",
        ),
        ({"run": "run7", "floater": "someone-else", "targets": []}, "floater: plan is for"),
    ],
)
def test_every_malformed_plan_is_answered_with_its_reason(
    store: ObjectStore, floater: Floater, payload: object, reason: str
) -> None:
    document: dict[str, Any] = plan_document(ProbePlan("run7", "c1-n1-pod1", ()), NAMESPACE)
    document["data"]["plan.json"] = payload if isinstance(payload, str) else json.dumps(payload)
    store.create(document)

    result = wait_for_result(store, "run7", "c1-n1-pod1")

    assert result.outcomes == ()
    assert result.error.startswith(f"plan rejected: {reason}")


def test_a_stopped_floater_removes_its_registration(store: ObjectStore, floater: Floater) -> None:
    deadline = time.monotonic() + BOUND
    while not floater.ready and time.monotonic() < deadline:
        time.sleep(0.05)

    floater.stop()

    with pytest.raises(NotFoundError):
        store.get("ConfigMap", registration_name("c1-n1-pod1"), NAMESPACE)


def test_the_doctor_collects_every_answer_as_it_is_written(
    store: ObjectStore, floater: Floater
) -> None:
    other = Floater(
        store,
        FloaterInfo("c1-n2-pod1", "cluster1", "node2", "pod", ("127.0.0.1",), port=0),
        NAMESPACE,
    )
    other.start()
    try:
        targets = (Target("self.v4", "127.0.0.1", floater.port, ("tcp",)),)
        plans = tuple(
            (info, ProbePlan("run5", info.name, targets)) for info in (floater.info, other.info)
        )
        matrix = Matrix("run5", (), plans, MatrixOptions())
        seen: list[tuple[int, int]] = []
        publish_plans(matrix, {info.name: store for info, _ in plans}, NAMESPACE)

        answers = collect_outcomes(
            matrix,
            {info.name: store for info, _ in plans},
            NAMESPACE,
            BOUND,
            progress=lambda done, total: seen.append((done, total)),
        )
    finally:
        other.stop()

    assert set(answers) == {"c1-n1-pod1", "c1-n2-pod1"}
    assert all(a.outcomes[0].success for a in answers.values())
    assert seen[0] == (0, 2)
    assert seen[-1] == (2, 2)


def test_the_doctor_stops_waiting_for_answers_at_its_timeout(
    store: ObjectStore, floater: Floater
) -> None:
    silent = FloaterInfo("nobody", "cluster1", "node9", "pod", ("127.0.0.1",))
    plans = (
        (floater.info, ProbePlan("run6", floater.info.name, ())),
        (silent, ProbePlan("run6", "nobody", ())),
    )
    matrix = Matrix("run6", (), plans, MatrixOptions())
    stores = {info.name: store for info, _ in plans}
    publish_plans(matrix, stores, NAMESPACE)
    started = time.monotonic()

    answers = collect_outcomes(matrix, stores, NAMESPACE, 1.0)

    assert set(answers) == {"c1-n1-pod1"}
    assert 1.0 <= time.monotonic() - started < 5.0


def test_the_doctor_removes_every_round_of_a_run_and_nothing_else(
    store: ObjectStore, floater: Floater
) -> None:
    def plan(run: str) -> tuple[FloaterInfo, ProbePlan]:
        return floater.info, ProbePlan(run, floater.info.name, ())

    stores = {floater.info.name: store}
    for run in ("run8", "run8r", "run8k", "run9"):
        publish_plans(Matrix(run, (), (plan(run),), MatrixOptions()), stores, NAMESPACE)
        wait_for_result(store, run, floater.info.name)

    remove_run([store], NAMESPACE, ("run8", "run8r", "run8k"))

    left = store.list("ConfigMap", namespace=NAMESPACE, label_selector=RUN_LABEL).items
    assert sorted(d["metadata"]["name"] for d in left) == [
        plan_name("run9", floater.info.name),
        result_name("run9", floater.info.name),
    ]


def test_a_result_travels_without_what_the_doctor_derives_and_reads_back_the_same() -> None:
    answered = ProbeOutcome("a.v4", "10.2.1.11", "tcp", 1, 1, 0.2, 0.2, 0.2)
    lost = ProbeOutcome("a.v6", "fd33:2:1::b", "http", 1, 0, error="timed out")
    outcome = PlanOutcome("run10", "c1-n1-pod1", (answered, lost), 0.5)

    document = result_document(outcome, NAMESPACE)

    sent = json.loads(document["data"]["result.json"])["outcomes"]
    assert [sorted(o) for o in sent] == [
        ["address", "protocol", "received", "rttAvg", "rttMax", "rttMin", "sent", "target"],
        ["address", "error", "protocol", "received", "sent", "target"],
    ]
    assert result_from(document) == outcome
