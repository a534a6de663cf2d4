"""What the doctor says about floaters that did not come up, read from Pod and DaemonSet
status as the API server reports them (pure: no cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from clusterlink.deploy.targets import ObjectId
from clusterlink.doctor.deployment import DaemonSetState, PodState, pod_problem

DAEMON_SET = ObjectId("DaemonSet", "clusterlink-floater", "kosmos-system")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient memory.",
                    }
                ],
            },
            "not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.",
        ),
        (
            {
                "phase": "Pending",
                "containerStatuses": [
                    {"name": "floater", "state": {"waiting": {"reason": "ErrImagePull"}}}
                ],
            },
            "container floater waiting: ErrImagePull",
        ),
        (
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "floater",
                        "state": {"terminated": {"reason": "Error", "exitCode": 1}},
                    }
                ],
            },
            "container floater terminated: Error: exit code 1",
        ),
        ({"phase": "Running"}, "Running, not registered yet"),
        ({}, "Pending, not registered yet"),
    ],
)
def test_a_pods_problem_is_told_in_the_words_of_its_status(
    status: dict[str, Any], expected: str
) -> None:
    assert pod_problem({"metadata": {"name": "p"}, "status": status}) == expected


def test_a_daemon_set_is_complete_once_as_many_pods_registered_as_it_schedules() -> None:
    registered = PodState("p1", "n1", True, "")
    waiting = PodState("p2", "n2", False, "container floater waiting: ImagePullBackOff")

    assert DaemonSetState(DAEMON_SET, 1, (registered,)).complete
    assert not DaemonSetState(DAEMON_SET, 2, (registered, waiting)).complete
    assert not DaemonSetState(DAEMON_SET, 2, (registered,)).complete
    assert not DaemonSetState(DAEMON_SET, None, ()).complete
    assert not DaemonSetState(DAEMON_SET, 0, ()).complete


def test_what_is_missing_names_each_pod_its_node_and_the_missing_count() -> None:
    waiting = PodState("p2", "n2", False, "container floater waiting: ImagePullBackOff")

    assert DaemonSetState(DAEMON_SET, 3, (waiting,)).problems() == [
        "DaemonSet kosmos-system/clusterlink-floater: pod p2 on node n2: container floater "
        "waiting: ImagePullBackOff",
        "DaemonSet kosmos-system/clusterlink-floater: 1 of 3 pods exist",
    ]
    assert "has not reported" in DaemonSetState(DAEMON_SET, None, ()).problems()[0]
    assert "no node is eligible" in DaemonSetState(DAEMON_SET, 0, ()).problems()[0]
