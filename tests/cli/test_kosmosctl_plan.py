"""``kosmosctl plan``: a dry run of the network-manager from a file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clusterlink.api.serialization import load_documents
from clusterlink.cli.kosmosctl import main

EXAMPLES = Path(__file__).parents[2] / "examples"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_shipped_example_plans_without_errors(example: str) -> None:
    code, out, _ = run("plan", "-f", str(EXAMPLES / example))
    assert code == 0
    assert "NODECONFIG" in out


def test_yaml_output_is_nodeconfig_objects_that_load_back() -> None:
    code, out, _ = run("plan", "-f", str(EXAMPLES / "gateway-two-clusters.yaml"), "-o", "yaml")
    assert code == 0
    configs = load_documents(out)
    assert sorted(c.name for c in configs) == [
        "cluster-a-node1",
        "cluster-a-node2",
        "cluster-b-node1",
        "cluster-b-node2",
    ]
    gateway = next(c for c in configs if c.name == "cluster-a-node1")
    assert gateway.metadata.labels == {"kosmos.io/cluster": "cluster-a"}
    assert {r.cidr for r in gateway.spec.routes} == {"10.97.0.0/16", "10.234.0.0/16"}


def test_previous_nodeconfigs_in_the_input_keep_their_macs() -> None:
    source = (EXAMPLES / "p2p-two-clusters.yaml").read_text()
    _, first, _ = run("plan", "-f", "-", "-o", "yaml", stdin=source)
    _, second, _ = run("plan", "-f", "-", "-o", "yaml", stdin=source + "---\n" + first)
    assert list(yaml.safe_load_all(first)) == list(yaml.safe_load_all(second))


def test_one_node_can_be_shown_entry_by_entry() -> None:
    code, out, _ = run(
        "plan", "-f", str(EXAMPLES / "gateway-two-clusters.yaml"), "--node", "cluster-a-node2"
    )
    assert code == 0
    assert "routes (table 200)" in out
    assert "10.234.0.0/16" in out
    code, _, err = run("plan", "-f", str(EXAMPLES / "gateway-two-clusters.yaml"), "--node", "nope")
    assert code == 2
    assert "no NodeConfig named nope" in err


def test_unreadable_input_exits_2_naming_the_object_and_field() -> None:
    bad = "kind: Cluster\nmetadata: {name: x}\nspec: {clusterLinkOptions: {networkType: foo}}\n"
    code, _, err = run("plan", "-f", "-", stdin=bad)
    assert code == 2
    assert "Cluster/x" in err
    assert "spec.clusterLinkOptions.networkType" in err
    code, _, err = run("plan", "-f", "/nonexistent/federation.yaml")
    assert code == 2
    assert "cannot read" in err


def test_objects_with_errors_exit_1_but_the_rest_is_still_planned() -> None:
    source = (
        (EXAMPLES / "p2p-two-clusters.yaml")
        .read_text()
        .replace("ip: 192.168.2.22", "ip: 192.168.2.300")
    )
    code, out, err = run("plan", "-f", "-", stdin=source)
    assert code == 1
    assert "ClusterNode/cluster-b-node2" in err
    assert "spec.ip" in err
    assert "cluster-a-node1" in out
