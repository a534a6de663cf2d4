"""A floater runs only plans that validate: unicast addresses, real ports, bounded numbers,
known protocols and fields; everything else is rejected with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from clusterlink.floater.plan import MAX_TARGETS, PlanError, parse_plan


def plan(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "run": "abc123",
        "floater": "cluster1-node1-pod1",
        "targets": [
            {"id": "a.v4", "address": "10.2.1.11", "port": 8889, "protocols": ["ping", "tcp"]},
            {"id": "a.v6", "address": "fd33:2:1::b", "port": 8889, "protocols": ["http"]},
        ],
    }
    document.update(changes)
    return document


def target(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"id": "t", "address": "10.0.0.1", "port": 80, "protocols": ["tcp"]}
    document.update(changes)
    return document


def test_a_valid_plan_is_parsed_with_defaults_for_timing() -> None:
    parsed = parse_plan(plan())

    assert [t.address for t in parsed.targets] == ["10.2.1.11", "fd33:2:1::b"]
    assert [t.family for t in parsed.targets] == [4, 6]
    assert parsed.probe_count == 3
    assert (parsed.count, parsed.interval, parsed.timeout) == (3, 0.05, 1.0)


def test_a_plan_survives_its_own_json_form() -> None:
    parsed = parse_plan(plan(count=5, routes=["10.2.1.11"]))

    assert parse_plan(parsed.to_document()) == parsed


def test_addresses_are_canonicalised() -> None:
    parsed = parse_plan(plan(targets=[target(address="FD33:0002:0001::000b")]))

    assert parsed.targets[0].address == "fd33:2:1::b"


@pytest.mark.parametrize(
    ("bad_address", "why"),
    [
        ("example.com", "not an IP address"),
        ("10.0.0.1; rm -rf /", "not an IP address"),
        ("10.0.0.0/24", "not an IP address"),
        ("224.0.0.1", "not a unicast address"),
        ("ff02::1", "not a unicast address"),
        ("0.0.0.0", "not a unicast address"),
        ("255.255.255.255", "not a unicast address"),
        (167772161, "as a string"),
    ],
)
def test_anything_but_one_unicast_address_is_rejected(bad_address: object, why: str) -> None:
    with pytest.raises(PlanError, match=rf"targets\[0\]\.address: .*{why}"):
        parse_plan(plan(targets=[target(address=bad_address)]))


@pytest.mark.parametrize("bad_port", [0, 65536, -1, "8889", True, None])
def test_ports_must_be_real_port_numbers(bad_port: object) -> None:
    with pytest.raises(PlanError, match=r"targets\[0\]\.port"):
        parse_plan(plan(targets=[target(port=bad_port)]))


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", 0), ("count", 101), ("timeout", 0), ("timeout", 31), ("interval", 0.001),
     ("concurrency", 0), ("concurrency", 257), ("count", "3"), ("mtuMax", 100)],
)  # fmt: skip
def test_counts_and_times_are_bounded(field: str, value: object) -> None:
    with pytest.raises(PlanError, match=rf"^{field}: expected"):
        parse_plan(plan(**{field: value}))


def test_unknown_protocols_are_rejected() -> None:
    with pytest.raises(PlanError, match=r"targets\[0\]\.protocols: unknown protocol 'shell'"):
        parse_plan(plan(targets=[target(protocols=["ping", "shell"])]))


def test_unknown_fields_are_rejected_not_ignored() -> None:
    with pytest.raises(PlanError, match="plan: unknown field"):
        parse_plan(plan(command="ping -c 1 10.0.0.1"))
    with pytest.raises(PlanError, match=r"targets\[0\]: unknown field"):
        parse_plan(plan(targets=[target(exec="/bin/sh")]))


def test_run_names_are_plain_words() -> None:
    with pytest.raises(PlanError, match=r"^run:"):
        parse_plan(plan(run="../etc"))


def test_target_ids_are_unique() -> None:
    with pytest.raises(PlanError, match="ids must be unique"):
        parse_plan(plan(targets=[target(), target()]))


def test_plans_are_bounded_in_size() -> None:
    many = [target(id=f"t{i}") for i in range(MAX_TARGETS + 1)]

    with pytest.raises(PlanError, match="at most"):
        parse_plan(plan(targets=many))


def test_route_lookups_accept_only_addresses() -> None:
    with pytest.raises(PlanError, match=r"routes\[1\]"):
        parse_plan(plan(routes=["10.0.0.1", "10.0.0.0/8"]))


@pytest.mark.parametrize("document", [None, [], "plan", 3])
def test_a_plan_must_be_an_object(document: object) -> None:
    with pytest.raises(PlanError, match=r"^plan: expected an object"):
        parse_plan(document)
