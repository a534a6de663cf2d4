"""``kosmosctl plan``: a dry run of the network-manager on a file of objects.

Users run it before joining a cluster to see the node configurations ClusterLink would
write, and every problem with their objects, without touching any cluster.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from clusterlink.api.errors import InvalidDocumentError
from clusterlink.api.models import Cluster, ClusterNode, NodeConfig
from clusterlink.api.serialization import load_documents
from clusterlink.cli.output import BadInputError, print_documents, print_problems, print_table
from clusterlink.planner import FederationPlan, plan_federation, random_mac, stable_mac
from clusterlink.planner.plan import node_config_document

EXIT_PROBLEMS = 1


def read_federation(source: str) -> tuple[list[Cluster], list[ClusterNode], list[NodeConfig]]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    objects = load_documents(text)
    return (
        [o for o in objects if isinstance(o, Cluster)],
        [o for o in objects if isinstance(o, ClusterNode)],
        [o for o in objects if isinstance(o, NodeConfig)],
    )


def _role(plan: FederationPlan, name: str) -> str:
    node = plan.nodes[name]
    if name in plan.held:
        return "held"
    has_bridge = any(d.name.startswith("vx-bridge") for d in node.devices)
    has_local = any(d.name.startswith("vx-local") for d in node.devices)
    if has_bridge and has_local:
        return "gateway"
    return "p2p" if has_bridge else "internal"


def print_summary(plan: FederationPlan, wide: bool) -> None:
    columns = ["NODECONFIG", "CLUSTER", "ROLE", "DEVICES", "ROUTES", "FDBS", "ARPS", "IPTABLES"]
    rows = []
    for name in sorted(plan.nodes):
        node = plan.nodes[name]
        counts = node.counts()
        devices = (
            " ".join(f"{d.name}={d.addr}" for d in node.devices) if wide else counts["devices"]
        )
        rows.append(
            [
                name,
                node.cluster,
                _role(plan, name),
                devices,
                counts["routes"],
                counts["fdbs"],
                counts["arps"],
                counts["iptables"],
            ]
        )
    print_table(None, columns, rows)


def print_node(plan: FederationPlan, name: str) -> None:
    node = plan.nodes[name]
    print_table(
        f"{name}: devices",
        ["NAME", "ADDR", "MAC", "BIND_DEV", "VNI", "PORT"],
        [list(d) for d in node.devices],
    )
    print_table(
        f"{name}: routes (table 200)", ["CIDR", "GW", "DEV"], [list(r) for r in node.routes()]
    )
    print_table(f"{name}: fdbs", ["IP", "MAC", "DEV"], [list(f) for f in node.fdbs()])
    print_table(f"{name}: arps", ["IP", "MAC", "DEV"], [list(a) for a in node.arps()])
    print_table(f"{name}: iptables", ["TABLE", "CHAIN", "RULE"], [list(r) for r in node.iptables])


@click.command("plan")
@click.option(
    "-f",
    "--filename",
    "source",
    required=True,
    help="YAML/JSON of Cluster, ClusterNode and optional previous NodeConfig objects"
    " ('-' for standard input).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json", "yaml"]),
    default="table",
    show_default=True,
)
@click.option("--node", "only", multiple=True, help="Show only these NodeConfigs (repeatable).")
@click.option(
    "--deterministic-macs",
    is_flag=True,
    help="Derive new MACs from names instead of drawing them at random.",
)
def plan_command(source: str, output: str, only: tuple[str, ...], deterministic_macs: bool) -> None:
    """Compute the NodeConfigs the network-manager would write, and report problems.

    Exit status: 0 when every object was usable, 1 when some had errors (the plan is still
    printed: other objects are not affected by them), 2 when the input cannot be read.
    """
    try:
        clusters, nodes, previous = read_federation(source)
    except (OSError, InvalidDocumentError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read {source}: {exc}") from None
    plan = plan_federation(
        clusters,
        nodes,
        {nc.name: nc.spec for nc in previous},
        stable_mac if deterministic_macs else random_mac,
    )
    unknown = [name for name in only if name not in plan.nodes]
    if unknown:
        raise BadInputError(f"no NodeConfig named {', '.join(unknown)} in the plan")
    names = list(only) or sorted(plan.nodes)
    if output in ("json", "yaml"):
        print_documents([node_config_document(plan.nodes[n]) for n in names], output)
    elif only:
        for name in names:
            print_node(plan, name)
    else:
        print_summary(plan, wide=output == "wide")
    problems = plan.all_problems()
    print_problems(problems)
    if any(p.severity == "error" for p in problems):
        sys.exit(EXIT_PROBLEMS)
