"""``kosmosctl lab``: a virtual multi-cluster federation on this host, for trying and testing.

Thin commands over :mod:`clusterlink.lab.lab`: they parse options, show progress and
render results; the lab package does the work.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from clusterlink.cli.doctor import doctor_command
from clusterlink.lab import lab as lab_ops
from clusterlink.lab.addressing import IP_FAMILIES, MODES, LabSpec, LabSpecError, plan_lab
from clusterlink.lab.naming import LabNameError, Target
from clusterlink.lab.report import PingResult, lab_status, next_commands, ping_matrix
from clusterlink.lab.state import DEFAULT_STATE_ROOT, STATE_DIR_ENV, LabState, lab_exists

EXIT_UNREACHABLE = 1


def lab_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--name`` and ``--state-dir``, shared by every lab command."""
    function = click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_STATE_ROOT,
        envvar=STATE_DIR_ENV,
        show_default=True,
        help=f"Where labs keep state, stores and logs (or ${STATE_DIR_ENV}).",
    )(function)
    return click.option("--name", default="demo", show_default=True, help="Lab name.")(function)


def _console(*, stderr: bool = False) -> Console:
    """Full-width tables when the output is not a terminal (pipes, logs, CI)."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=200)


@contextmanager
def _lab_errors() -> Iterator[None]:
    """Lab failures become one clear error line and exit status 1."""
    try:
        yield
    except (lab_ops.LabError, LabNameError, LabSpecError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group("lab")
def lab() -> None:
    """A virtual federation of clusters in network namespaces on this host (needs root)."""


@lab.command("up")
@lab_options
@click.option("--clusters", type=int, default=2, show_default=True)
@click.option("--nodes", type=int, default=2, show_default=True, help="Nodes per cluster.")
@click.option("--pods-per-node", type=int, default=1, show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="p2p", show_default=True)
@click.option("--ip-family", type=click.Choice(IP_FAMILIES), default="all", show_default=True)
@click.option("--overlap", is_flag=True, help="Add a cluster reusing cluster1's pod CIDRs.")
@click.option(
    "--floaters/--no-floaters",
    default=True,
    show_default=True,
    help="Run a floater per node in host network and in its first pod (for kosmosctl dr).",
)
@click.option("--timeout", type=float, default=lab_ops.READY_TIMEOUT, show_default=True)
def up_command(
    *,
    name: str,
    state_dir: Path,
    clusters: int,
    nodes: int,
    pods_per_node: int,
    mode: Any,
    ip_family: Any,
    overlap: bool,
    floaters: bool,
    timeout: float,
) -> None:
    """Build the federation, start ClusterLink on it, and wait until every node is synced."""
    console = _console(stderr=True)
    with _lab_errors():
        spec = LabSpec(name, clusters, nodes, pods_per_node, mode, ip_family, overlap, floaters)
        with console.status(f"lab {name}: starting") as spinner:

            def progress(message: str) -> None:
                if message.startswith("waiting"):
                    spinner.update(f"lab {name}: {message}")
                else:
                    console.print(f"[green]•[/green] {message}")

            state = lab_ops.up(spec, state_dir, progress, timeout)
    console.print(f"[bold green]lab {name} is ready[/bold green]")
    _print_summary(state)


def _print_summary(state: LabState) -> None:
    plan = plan_lab(state.spec)
    _print_status(lab_status(state, plan))
    click.echo("\nTry next:")
    for command in next_commands(state, plan):
        click.echo(f"  {command}")


@lab.command("status")
@lab_options
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
def status_command(*, name: str, state_dir: Path, output: str) -> None:
    """Clusters, nodes, pods and component processes of the lab."""
    with _lab_errors():
        state, plan = lab_ops.open_lab(name, state_dir)
        document = lab_status(state, plan)
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump(document, sort_keys=False), nl=False)
    else:
        _print_status(document)


def _print_status(document: dict[str, Any]) -> None:
    console = _console()
    clusters = Table(title=f"lab {document['name']}: clusters", title_justify="left")
    for column in ("CLUSTER", "TYPE", "FAMILY", "POD CIDRS", "GLOBAL", "GATEWAY"):
        clusters.add_column(column)
    nodes = Table(title="nodes", title_justify="left")
    for column in ("NODE", "NAMESPACE", "UNDERLAY", "ROLE", "AGENT", "NODECONFIG"):
        nodes.add_column(column)
    pods = Table(title="pods", title_justify="left")
    for column in ("POD", "NAMESPACE", "IPS"):
        pods.add_column(column)
    for cluster in document["clusters"]:
        mapped = ", ".join(f"{k}→{v}" for k, v in cluster["globalCIDRsMap"].items())
        clusters.add_row(
            cluster["name"],
            cluster["networkType"],
            cluster["ipFamily"],
            ", ".join(cluster["podCIDRs"]) or "-",
            mapped or "-",
            cluster["gateway"] or "-",
        )
        for node in cluster["nodes"]:
            agent = "killed" if node["killed"] else node["agent"]
            nodes.add_row(
                node["path"],
                node["namespace"],
                ", ".join(node["ips"]),
                node["role"],
                agent,
                node["nodeConfig"],
            )
        for pod in cluster["pods"]:
            pods.add_row(pod["path"], pod["namespace"], ", ".join(pod["ips"]))
    processes = Table(title="processes", title_justify="left")
    for column in ("COMPONENT", "WHERE", "PID", "STATE", "LOG"):
        processes.add_column(column)
    for process in document["processes"]:
        processes.add_row(
            process["role"],
            process["where"],
            str(process["pid"]),
            "running" if process["running"] else "[red]exited[/red]",
            process["log"],
        )
    for table in (clusters, nodes, pods, processes):
        console.print(table)
    console.print(f"control store: {document['controlStore']}")
    if document["standIns"]:
        console.print(f"[yellow]stand-ins for: {', '.join(document['standIns'])}[/yellow]")


@lab.command(
    "exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@lab_options
@click.argument("target")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def exec_command(name: str, state_dir: Path, target: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in CLUSTER/NODE's or CLUSTER/NODE/POD's namespace; exit with its code."""
    if command[:1] == ("--",):  # click keeps the separator once options stop being parsed
        command = command[1:]
    with _lab_errors():
        code = lab_ops.exec_in(name, state_dir, Target.parse(target), command)
    sys.exit(code)


@lab.command("kill-node")
@lab_options
@click.argument("target")
def kill_node_command(name: str, state_dir: Path, target: str) -> None:
    """Fail CLUSTER/NODE: stop its processes and cut its link."""
    with _lab_errors():
        lab_ops.kill_node(name, state_dir, Target.parse(target))
    click.echo(f"node {target} killed (processes stopped, link cut)")


@lab.command("start-node")
@lab_options
@click.argument("target")
def start_node_command(name: str, state_dir: Path, target: str) -> None:
    """Bring CLUSTER/NODE back: its link, agent and elector."""
    with _lab_errors():
        lab_ops.start_node(name, state_dir, Target.parse(target))
    click.echo(f"node {target} started")


@lab.command("matrix")
@lab_options
@click.option("--attempts", type=int, default=3, show_default=True, help="Pings per pair.")
def matrix_command(name: str, state_dir: Path, attempts: int) -> None:
    """Ping every pod of every other cluster from every pod; exit 1 if any pair fails."""
    with _lab_errors():
        _, plan = lab_ops.open_lab(name, state_dir)
        results = ping_matrix(plan, attempts)
    _print_matrix(results)
    if not all(result.ok for result in results):
        sys.exit(EXIT_UNREACHABLE)


def _print_matrix(results: list[PingResult]) -> None:
    table = Table(title="cross-cluster pod connectivity (ping)", title_justify="left")
    for column in ("FROM", "TO", "ADDRESS", "RESULT"):
        table.add_column(column)
    for result in results:
        verdict = "[green]ok[/green]" if result.ok else "[red]FAIL[/red]"
        table.add_row(result.source, result.destination, result.address, verdict)
    console = _console()
    console.print(table)
    passed = sum(result.ok for result in results)
    console.print(f"{passed}/{len(results)} reachable")


@lab.command("down")
@lab_options
def down_command(name: str, state_dir: Path) -> None:
    """Remove the lab: processes, namespaces, stores, logs and state."""
    console = _console(stderr=True)
    with _lab_errors():
        removed = lab_ops.down(name, state_dir, lambda m: console.print(f"[green]•[/green] {m}"))
    click.echo(f"lab {name} removed ({len(removed)} namespaces)")


@lab.command("demo")
@lab_options
@click.option(
    "--down/--keep",
    "remove_after",
    default=False,
    show_default="--keep",
    help="Remove the lab at the end, or leave it running to explore.",
)
def demo_command(name: str, state_dir: Path, remove_after: bool) -> None:
    """A small mixed dual-stack federation, checked by the doctor on pod and host networks.

    A lab of the same name left by an earlier run is replaced, so the demo can be repeated.
    The lab stays running afterwards (the commands to explore it and to remove it are
    printed last) unless --down. Exits non-zero when any check failed."""
    context = click.get_current_context()
    if lab_exists(state_dir, name):
        _console(stderr=True).print(f"[green]•[/green] replacing the lab {name} of an earlier run")
        context.invoke(down_command, name=name, state_dir=state_dir)
    context.invoke(
        up_command,
        name=name,
        state_dir=state_dir,
        clusters=2,
        nodes=2,
        pods_per_node=1,
        mode="mixed",
        ip_family="all",
        overlap=False,
        floaters=True,
        timeout=lab_ops.READY_TIMEOUT,
    )
    try:
        click.echo(f"\n$ kosmosctl dr --lab {name} --host-network")
        context.invoke(doctor_command, lab_name=name, state_dir=state_dir, host_network=True)
    finally:
        if remove_after:
            context.invoke(down_command, name=name, state_dir=state_dir)
        else:
            state, plan = lab_ops.open_lab(name, state_dir)
            click.echo(f"\nThe lab {name} keeps running. Explore it, then remove it:")
            for command in next_commands(state, plan):
                click.echo(f"  {command}")
