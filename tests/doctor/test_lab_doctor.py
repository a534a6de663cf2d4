"""End to end on a 2x2 dual-stack lab: ``kosmosctl dr --lab`` passes every pair in pod and
host network; a route deleted by hand inside one node fails exactly the affected pairs and
the explanation names that node; a killed node is named as down. Outputs parse."""

from __future__ import annotations

import json
import os
import subprocess
from html.parser import HTMLParser
from typing import Any

import yaml

from clusterlink.lab import lab as lab_ops
from tests.lab.support import KOSMOSCTL, RunningLab

DOCTOR_TIMEOUT = 120


def doctor(lab: RunningLab, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLUSTERLINK_LAB_STATE_DIR": str(lab.state_dir)}
    return subprocess.run(
        [*KOSMOSCTL, "dr", "--lab", lab.spec.name, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=DOCTOR_TIMEOUT,
        check=False,
    )


def report(lab: RunningLab, *args: str) -> tuple[int, dict[str, Any]]:
    done = doctor(lab, "--host-network", "-o", "json", *args)
    return done.returncode, json.loads(done.stdout)


def pairs(document: dict[str, Any], result: str) -> set[tuple[str, str, str]]:
    return {
        (r["source"], r["destination"], r["family"])
        for r in document["results"]
        if r["result"] == result
    }


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self.cells.append(dict(attrs))


def test_a_healthy_lab_passes_every_pair_in_pod_and_host_network(lab: RunningLab) -> None:
    code, document = report(lab)

    assert code == 0, document["summary"]
    results = document["results"]
    assert {r["network"] for r in results} == {"pod", "host"}
    assert {r["family"] for r in results} == {"ipv4", "ipv6"}
    assert {r["protocol"] for r in results} == {"ping", "tcp", "http"}
    # 2 networks x 4 floaters x 2 remote floaters x 2 families x 3 protocols
    assert len(results) == 96
    assert all(r["result"] == "SUCCESSED" for r in results)
    assert document["explanations"] == []


def test_the_table_looks_like_upstreams_and_ends_with_the_summary(lab: RunningLab) -> None:
    done = doctor(lab, "--protocol", "ping", "--ip-family", "ipv4")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].split() == ["S/N", "SRC_NODE_NAME", "DST_NODE_NAME", "TARGET_IP", "RESULT"]
    assert lines[-1].startswith("all passed: 8/8 probe(s) passed")
    assert "plan: 8 probe(s)" in done.stderr


def test_yaml_and_html_outputs_are_complete(lab: RunningLab) -> None:
    as_yaml = yaml.safe_load(doctor(lab, "-o", "yaml", "--protocol", "tcp").stdout)
    html = doctor(lab, "-o", "html", "--mtu", "--protocol", "ping").stdout

    assert as_yaml["summary"]["passed"] is True
    assert html.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(html)
    checked = [c for c in checker.cells if "ok" in (c.get("class") or "")]
    assert len(checked) == 8  # 4 pod floaters x 2 remote ones
    assert all("mtu" in (c.get("title") or "") for c in checked)


def test_a_route_deleted_inside_one_node_fails_exactly_its_pairs_and_names_the_node(
    lab: RunningLab,
) -> None:
    node = lab.plan.node("cluster1", "node1")
    remote = lab.plan.node("cluster2", "node1")
    route = [remote.pod_cidr4 or "", "table", "200"]
    shown = subprocess.run(
        ["ip", "-n", node.namespace, "route", "show", "exact", *route],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    subprocess.run(["ip", "-n", node.namespace, "route", "del", *route], check=True)
    try:
        code, document = report(lab)
    finally:
        restore = ["ip", "-n", node.namespace, "route", "replace", *shown, "table", "200"]
        subprocess.run(restore, check=True)

    assert code == 1
    assert pairs(document, "FAILED") == {
        ("cluster1-node1-pod1", "cluster2-node1-pod1", "ipv4"),
        ("cluster2-node1-pod1", "cluster1-node1-pod1", "ipv4"),
    }
    assert pairs(document, "EXCEPTION") == set()
    assert {e["suspect"] for e in document["explanations"]} == {"cluster1-node1"}
    verdict = document["explanations"][0]["verdict"]
    assert "cluster1-node1 reports Applied but its kernel does not route" in verdict


def test_a_killed_node_fails_only_its_own_pairs_and_is_named_down(lab: RunningLab) -> None:
    lab_ops.kill_node(lab.spec.name, lab.state_dir, lab_ops.naming.Target("cluster2", "node2"))

    code, document = report(lab, "--ip-family", "ipv4")

    assert code == 1
    broken = pairs(document, "FAILED") | pairs(document, "EXCEPTION")
    assert broken
    assert all("cluster2-node2" in source + destination for source, destination, _ in broken)
    healthy = pairs(document, "SUCCESSED")
    assert ("cluster1-node1-pod1", "cluster2-node1-pod1", "ipv4") in healthy
    assert {e["suspect"] for e in document["explanations"]} == {"cluster2-node2"}
    assert all("was killed" in e["verdict"] for e in document["explanations"])
