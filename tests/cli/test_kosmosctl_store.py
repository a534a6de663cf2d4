"""``kosmosctl apply``, ``get`` and ``delete`` against an embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from clusterlink.cli.kosmosctl import main
from clusterlink.store import open_store

EXAMPLE = Path(__file__).parents[2] / "examples" / "gateway-two-clusters.yaml"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_apply_creates_then_reports_unchanged_and_writes_status(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 'control.db'}"
    code, out, _ = run("apply", "-f", str(EXAMPLE), "--store", store)
    assert code == 0
    assert "cluster.kosmos.io/cluster-a created" in out
    code, out, _ = run("apply", "-f", str(EXAMPLE), "--store", store)
    assert code == 0
    assert set(out.split()) >= {"unchanged"}
    assert "created" not in out
    code, out, _ = run("get", "clusters", "--store", store, "-o", "wide")
    assert code == 0
    assert "cluster-a  gateway       ipv4       Unknown  10.233.0.0/16  10.96.0.0/16" in out


def test_get_formats(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 'control.db'}"
    run("apply", "-f", str(EXAMPLE), "--store", store)
    _, out, _ = run("get", "cn", "--store", store)
    assert out.splitlines()[0].split() == ["NAME", "ROLES", "INTERFACE", "IP"]
    _, out, _ = run(
        "get", "clusternodes", "-l", "kosmos.io/cluster=cluster-b", "--store", store, "-o", "json"
    )
    names = [item["metadata"]["name"] for item in json.loads(out)["items"]]
    assert names == ["cluster-b-node1", "cluster-b-node2"]
    _, out, _ = run("get", "cluster", "cluster-a", "--store", store, "-o", "yaml")
    assert yaml.safe_load(out)["spec"]["clusterLinkOptions"]["networkType"] == "gateway"
    code, _, err = run("get", "cluster", "nope", "--store", store)
    assert code == 2
    assert 'Cluster "nope" not found' in err
    code, _, err = run("get", "widgets", "--store", store)
    assert code == 2
    assert "unknown resource type" in err


def test_nodeconfig_sync_and_problems_are_shown(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'control.db'}"
    store = open_store(url)
    config = store.create(
        {
            "apiVersion": "kosmos.io/v1alpha1",
            "kind": "NodeConfig",
            "metadata": {"name": "a-n1"},
            "spec": {"routes": []},
        }
    )
    store.update_status(
        {
            **config,
            "status": {
                "observedGeneration": 1,
                "lastSyncTime": "2026-11-26T00:00:00Z",
                "conditions": [
                    {
                        "type": "Applied",
                        "status": "False",
                        "reason": "EntriesFailed",
                        "message": "route 10.1.0.0/16: Network unreachable",
                    }
                ],
            },
        }
    )
    store.close()
    code, out, err = run("get", "nc", "--store", url)
    assert code == 0
    assert out.splitlines()[1].split()[-1] == "Failed"
    assert "route 10.1.0.0/16: Network unreachable" in err


def test_delete_and_unreadable_input(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 'control.db'}"
    run("apply", "-f", str(EXAMPLE), "--store", store)
    code, out, _ = run("delete", "cn", "cluster-a-node2", "--store", store)
    assert code == 0
    assert "deleted" in out
    code, _, err = run("delete", "cn", "cluster-a-node2", "--store", store)
    assert code == 1
    assert "not found" in err
    assert run("delete", "cn", "cluster-a-node2", "--store", store, "--ignore-not-found")[0] == 0
    code, _, err = run(
        "apply",
        "-f",
        "-",
        "--store",
        store,
        stdin="kind: ClusterNode\nmetadata: {name: x}\nspec: {ip: 1}\n",
    )
    assert code == 2
    assert "ClusterNode/x: spec.ip" in err
    code, _, err = run("get", "clusters", "--store", "postgres://nowhere")
    assert code == 2
    assert "cannot open store" in err
