"""End to end: what ``kosmosctl lab`` creates, reports and removes, and what it refuses."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from clusterlink.lab import naming, topology
from clusterlink.lab.processes import is_running
from clusterlink.lab.state import LabStateError, load_state
from tests.lab.conftest import LabFactory
from tests.lab.support import KOSMOSCTL, eventually, kosmosctl, unique_lab_name


def test_down_removes_every_namespace_process_and_file_of_the_lab(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(clusters=2, nodes=2)
    state = lab.state
    assert all(topology.namespace_exists(ns) for ns in state.namespaces)
    assert all(is_running(process) for process in state.processes)

    done = lab.cli("down")

    assert done.returncode == 0, done.stderr
    assert topology.existing_namespaces(naming.lab_prefix(lab.spec.name)) == []
    assert not any(is_running(process) for process in state.processes)
    assert not Path(state.directory).exists()


def test_exec_runs_in_the_pods_namespace_and_returns_the_commands_exit_code(
    start_lab: LabFactory,
) -> None:
    lab = start_lab(clusters=1, nodes=1)
    pod = lab.pod("cluster1/node1/pod1")

    addresses = lab.cli(
        "exec", "cluster1/node1/pod1", "--", "ip", "-4", "-o", "addr", "show", "eth0"
    )
    failing = lab.cli("exec", "cluster1/node1/pod1", "--", "sh", "-c", "exit 7")

    assert addresses.returncode == 0
    assert f"{pod.ip4}/32" in addresses.stdout
    assert failing.returncode == 7


def test_status_reports_clusters_nodes_pods_and_processes(start_lab: LabFactory) -> None:
    lab = start_lab(clusters=1, nodes=2, mode="gateway", ip_family="ipv4")

    status = json.loads(lab.cli("status", "-o", "json").stdout)

    (cluster,) = status["clusters"]
    assert cluster["podCIDRs"] == ["10.1.0.0/16"]
    assert cluster["gateway"] in ("cluster1/node1", "cluster1/node2")
    assert [n["nodeConfig"] for n in cluster["nodes"]] == ["Synced", "Synced"]
    assert [p["path"] for p in cluster["pods"]] == ["cluster1/node1/pod1", "cluster1/node2/pod1"]
    assert {p["role"] for p in status["processes"]} >= {"network-manager", "agent"}
    assert all(p["running"] for p in status["processes"])


def test_up_refuses_a_name_whose_namespaces_exist_and_leaves_them_alone(tmp_path: Path) -> None:
    name = unique_lab_name()
    squatter = naming.router_namespace(name)
    subprocess.run(["ip", "netns", "add", squatter], check=True)
    try:
        done = kosmosctl("up", "--name", name, state_dir=tmp_path)

        assert done.returncode == 1
        assert "exist already" in done.stderr
        assert topology.namespace_exists(squatter)
        assert not (tmp_path / name).exists()
    finally:
        topology.delete_namespace(squatter)


def test_up_rejects_an_invalid_lab_name_before_creating_anything(tmp_path: Path) -> None:
    done = kosmosctl("up", "--name", "Bad-Name", state_dir=tmp_path)

    assert done.returncode == 1
    assert "invalid lab name" in done.stderr
    assert topology.existing_namespaces(naming.lab_prefix("Bad-Name")) == []


def test_up_that_cannot_get_ready_in_time_removes_everything_but_the_component_logs(
    tmp_path: Path,
) -> None:
    name = unique_lab_name()

    done = kosmosctl("up", "--name", name, "--timeout", "0.5", state_dir=tmp_path)

    assert done.returncode == 1
    assert "not ready after" in done.stderr
    assert topology.existing_namespaces(naming.lab_prefix(name)) == []
    assert not (tmp_path / name).exists()
    kept_logs = tmp_path / f"{name}.failed-logs"
    assert str(kept_logs) in done.stderr.replace("\n", "")
    assert (kept_logs / "network-manager.log").exists()


def test_down_removes_a_lab_whose_up_was_killed_halfway(tmp_path: Path) -> None:
    name = unique_lab_name()
    env = {**os.environ, "CLUSTERLINK_LAB_STATE_DIR": str(tmp_path)}
    up = subprocess.Popen(
        [*KOSMOSCTL, "lab", "up", "--name", name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert eventually(lambda: _started_processes(tmp_path, name) >= 3, within=60)
    finally:
        up.kill()
        up.wait()
    state = load_state(tmp_path, name)

    done = kosmosctl("down", "--name", name, state_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    assert topology.existing_namespaces(naming.lab_prefix(name)) == []
    assert not any(is_running(process) for process in state.processes)


def _started_processes(state_dir: Path, name: str) -> int:
    try:
        return len(load_state(state_dir, name).processes)
    except LabStateError:
        return 0


def test_demo_checks_the_lab_with_the_doctor_leaves_it_running_and_can_be_repeated(
    tmp_path: Path,
) -> None:
    name, state_dir = unique_lab_name(), tmp_path / "labs"
    try:
        first = kosmosctl("demo", "--name", name, state_dir=state_dir)
        first_lab = load_state(state_dir, name)
        again = kosmosctl("demo", "--name", name, state_dir=state_dir)

        assert first.returncode == 0, first.stderr
        assert again.returncode == 0, again.stderr
        assert "SUCCESSED" in again.stdout
        assert "FAILED" not in again.stdout
        assert f"kosmosctl lab down --name {name}" in again.stdout
        assert f"replacing the lab {name}" in again.stderr
        assert not any(is_running(process) for process in first_lab.processes)
        assert all(is_running(process) for process in load_state(state_dir, name).processes)
    finally:
        kosmosctl("down", "--name", name, state_dir=state_dir)
    assert topology.existing_namespaces(naming.lab_prefix(name)) == []
