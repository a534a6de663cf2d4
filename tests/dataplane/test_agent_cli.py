"""``clusterlink agent apply`` and ``show`` as a user runs them against a namespace."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from clusterlink.api.models import NodeConfig, ObjectMeta, Route
from clusterlink.api.serialization import dump_documents
from clusterlink.cli.components import main
from tests.dataplane.lab import Lab, Node, p2p_spec, sh

A1, B1 = Node("a1", "a", 11), Node("b1", "b", 21)


def node_config_file(tmp_path: Path, spec_routes: tuple[Route, ...] | None = None) -> Path:
    spec = p2p_spec(A1, [B1])
    if spec_routes is not None:
        spec = spec.model_copy(update={"routes": spec_routes})
    config = NodeConfig(metadata=ObjectMeta(name="cluster-a-a1"), spec=spec)
    path = tmp_path / "nodeconfig.yaml"
    path.write_text(dump_documents([config]))
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["agent", *args])
    return result.exit_code, result.stdout, result.stderr


def test_apply_prints_the_changes_then_reports_nothing_to_do(lab: Lab, tmp_path: Path) -> None:
    lab.build([A1, B1])
    path = node_config_file(tmp_path)

    code, out, _ = run("apply", "-f", str(path), "--netns", lab.ns("a1"))
    assert code == 0
    assert "replace route 10.20.21.0/24 via 172.30.0.21 dev vx-bridge table 200" in out
    assert "0 failed" in out

    code, out, _ = run("apply", "-f", str(path), "--netns", lab.ns("a1"))
    assert (code, out.strip()) == (0, "no changes: already converged")


def test_show_prints_a_spec_that_apply_accepts_unchanged(lab: Lab, tmp_path: Path) -> None:
    lab.build([A1, B1])
    run("apply", "-f", str(node_config_file(tmp_path)), "--netns", lab.ns("a1"))

    for output in ("yaml", "json"):
        code, shown, _ = run("show", "--netns", lab.ns("a1"), "-o", output)
        assert code == 0
        document = json.loads(shown) if output == "json" else yaml.safe_load(shown)
        assert document["routes"] == [
            {"cidr": "10.20.21.0/24", "gw": "172.30.0.21", "dev": "vx-bridge"},
            {"cidr": "fd33:20:21::/64", "gw": "fdb0::21", "dev": "vx-bridge-6"},
        ]
        assert [d["bindDev"] for d in document["devices"]] == ["eth0", "eth0"]
        path = tmp_path / f"shown.{output}"
        path.write_text(shown)
        code, out, _ = run("apply", "-f", str(path), "--netns", lab.ns("a1"))
        assert (code, out.strip()) == (0, "no changes: already converged")


def test_invalid_spec_exits_2_naming_the_field_and_touches_nothing(
    lab: Lab, tmp_path: Path
) -> None:
    lab.build([A1, B1])
    bad = (Route(cidr="10.20.21.0/33", gw="172.30.0.21", dev="vx-bridge"),)
    links_before = sh("ip", "-n", lab.ns("a1"), "link", "show").stdout

    code, out, err = run(
        "apply", "-f", str(node_config_file(tmp_path, bad)), "--netns", lab.ns("a1")
    )

    assert code == 2
    assert "NodeConfig/cluster-a-a1 spec.routes[0].cidr" in err
    assert "nothing changed" in err
    assert out == ""
    assert sh("ip", "-n", lab.ns("a1"), "link", "show").stdout == links_before


def test_failed_entries_exit_nonzero_and_are_listed(lab: Lab, tmp_path: Path) -> None:
    lab.build([A1, B1])
    own_address = Route(cidr="10.50.0.0/16", gw="172.30.0.11", dev="vx-bridge")

    code, _, err = run(
        "apply", "-f", str(node_config_file(tmp_path, (own_address,))), "--netns", lab.ns("a1")
    )

    assert code == 1
    assert (
        "failed: replace route 10.50.0.0/16 via 172.30.0.11 dev vx-bridge table 200:"
        " Error: Nexthop has invalid gateway." in err
    )


def test_dry_run_prints_what_would_change_and_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    lab.build([A1, B1])
    links_before = sh("ip", "-n", lab.ns("a1"), "link", "show").stdout

    code, out, _ = run(
        "apply", "-f", str(node_config_file(tmp_path)), "--netns", lab.ns("a1"), "--dry-run"
    )

    assert code == 0
    assert "would create link vx-bridge vxlan id 54" in out
    assert out.strip().endswith("change(s) would be made")
    assert sh("ip", "-n", lab.ns("a1"), "link", "show").stdout == links_before


def test_bare_spec_file_is_accepted_and_a_missing_namespace_is_an_error(
    lab: Lab, tmp_path: Path
) -> None:
    lab.build([A1, B1])
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(p2p_spec(A1, [B1]).model_dump(mode="json", by_alias=True)))

    code, out, _ = run("apply", "-f", str(path), "--netns", lab.ns("a1"))
    assert code == 0
    assert "replace route 10.20.21.0/24 via 172.30.0.21 dev vx-bridge table 200" in out

    code, _, err = run("apply", "-f", str(path), "--netns", lab.ns("absent"))
    assert code == 1
    assert "does not exist" in err
    assert lab.ns("absent") not in sh("ip", "netns", "list").stdout
