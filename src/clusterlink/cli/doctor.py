"""``kosmosctl dr`` (also ``check``): probe every pair of floaters and explain what fails.

Upstream's flags, with the embedded store's ``--src-store``/``--dst-store`` in place of
kubeconfigs, and ``--lab NAME`` for a running lab. Plans and results travel through the
member stores, so this command only needs store access. Progress and the plan size go to
standard error; the report goes to standard output (``-o html > report.html``). Exit
status 0 only when every probe passed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clusterlink.cli.output import BadInputError, print_table
from clusterlink.doctor.html import render_html
from clusterlink.doctor.matrix import FAMILY_CHOICES, PROTOCOL_CHOICES, Matrix, MatrixOptions
from clusterlink.doctor.report import TABLE_COLUMNS, WIDE_COLUMNS, report_document, table_rows
from clusterlink.doctor.session import DoctorError, DoctorRequest, DoctorRun, Observers, run_doctor
from clusterlink.floater.messages import DEFAULT_NAMESPACE, Network
from clusterlink.floater.plan import MAX_CONCURRENCY, MAX_COUNT
from clusterlink.lab import lab as lab_ops
from clusterlink.lab.processes import is_running
from clusterlink.lab.state import DEFAULT_STATE_ROOT, STATE_DIR_ENV

EXIT_NOT_ALL_PASSED = 1
OUTPUTS = ("table", "wide", "json", "yaml", "html")


def _stderr() -> Console:
    probe = Console(stderr=True)
    return probe if probe.is_terminal else Console(stderr=True, width=200)


@dataclass(frozen=True, slots=True)
class LabFloaters:
    """Where a lab's floaters register, and which of them run."""

    member_stores: tuple[str, ...]
    control_store: str
    expected: frozenset[str]  # running: the doctor waits for their registrations
    down: dict[str, str]  # floater name -> why it does not run


def lab_floaters(name: str, state_dir: Path) -> LabFloaters:
    try:
        state, plan = lab_ops.open_lab(name, state_dir)
    except lab_ops.LabError as exc:
        raise BadInputError(str(exc)) from None
    if not state.spec.floaters:
        raise BadInputError(
            f"lab {name} runs no floaters (created with --no-floaters); recreate it without"
        )
    running = {
        floater
        for record in state.processes
        if record.role.startswith("floater") and is_running(record)
        for floater in _floater_name(record.argv)
    }
    expected: set[str] = set()
    down: dict[str, str] = {}
    for node in plan.nodes:
        for _, _, floater, _ in lab_ops.floater_places(node):
            if node.path in state.killed_nodes:
                down[floater] = f"is not running (node {node.path} was killed)"
            elif floater not in running:
                down[floater] = "is not running (its process exited)"
            else:
                expected.add(floater)
    stores = tuple(state.member_stores[cluster.name] for cluster in plan.clusters)
    return LabFloaters(stores, state.control_store, frozenset(expected), down)


def _floater_name(argv: tuple[str, ...]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--name"]


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        yield progress


def _observers(progress: Progress, console: Console) -> Observers:
    floaters = progress.add_task("waiting for floaters", total=None)
    probing = progress.add_task("probing", total=None, visible=False)

    def on_floaters(done: int, total: int) -> None:
        progress.update(floaters, completed=done, total=total)

    def on_plan(matrix: Matrix) -> None:
        progress.update(floaters, completed=progress.tasks[floaters].total or 0)
        console.print(
            f"plan: {matrix.probe_count} probe(s), {len(matrix.checks)} check(s) from "
            f"{len(matrix.plans)} floater(s); expected about "
            f"{matrix.expected_seconds():.1f} s"
        )
        progress.update(probing, total=len(matrix.plans), visible=True)

    def on_results(done: int, total: int) -> None:
        progress.update(probing, completed=done, total=total)

    return Observers(on_floaters, on_plan, on_results)


def _render(run: DoctorRun, output: str, console: Console) -> None:
    if output in ("json", "yaml"):
        document = report_document(run.matrix, run.results, run.explanations, run.summary)
        if output == "json":
            click.echo(json.dumps(document, indent=2))
        else:
            click.echo(yaml.safe_dump(document, sort_keys=False), nl=False)
        console.print(run.summary.line())
        return
    if output == "html":
        click.echo(render_html(run.results, run.explanations, run.summary), nl=False)
        console.print(run.summary.line())
        return
    wide = output == "wide"
    print_table(None, WIDE_COLUMNS if wide else TABLE_COLUMNS, table_rows(run.results, wide=wide))
    if run.explanations:
        click.echo("\nFailures explained:")
        for explanation in run.explanations:
            check = explanation.check
            click.echo(
                f"- {check.source.name} -> {check.destination.name} {check.address} "
                f"({check.network}, ipv{check.family}, {', '.join(explanation.protocols)}): "
                f"{explanation.verdict}"
            )
            click.echo(f"    path:  {' -> '.join(h.describe() for h in explanation.forward)}")
            click.echo(f"    reply: {' -> '.join(h.describe() for h in explanation.reply)}")
    click.echo(run.summary.line())


@click.command("dr")
@click.option("--lab", "lab_name", help="Check a running lab (kosmosctl lab up).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE_ROOT,
    envvar=STATE_DIR_ENV,
    show_default=True,
    help="Where labs keep their state (with --lab).",
)
@click.option("--src-store", help="Store URL of the source member cluster.")
@click.option("--dst-store", help="Store URL of the destination cluster (default: in src).")
@click.option(
    "--control-store",
    envvar="CLUSTERLINK_STORE",
    help="Store URL of the control plane (NodeConfigs), to explain failures.",
)
@click.option(
    "--host-network", is_flag=True, help="Also check floaters in host network (node to node)."
)
@click.option("--protocol", type=click.Choice(PROTOCOL_CHOICES), default="all", show_default=True)
@click.option("--ip-family", type=click.Choice(FAMILY_CHOICES), default="all", show_default=True)
@click.option("--mtu", is_flag=True, help="Also measure each pair's path MTU.")
@click.option("-n", "--namespace", default=DEFAULT_NAMESPACE, show_default=True)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Probe this port (default: each floater's registered PORT, 8889).",
)
@click.option(
    "-w", "--pod-wait-time", type=click.FloatRange(0, 3600), default=30.0, show_default=True
)
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
@click.option("--keep", is_flag=True, help="Keep this run's plans and results in the stores.")
@click.option(
    "--sample", type=click.IntRange(1), default=None, help="N nodes per cluster (gateways always)."
)
@click.option("--count", type=click.IntRange(1, MAX_COUNT), default=3, show_default=True)
@click.option("--timeout", type=click.FloatRange(0.05, 30), default=1.0, show_default=True)
@click.option(
    "--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=64, show_default=True
)
def doctor_command(
    *,
    lab_name: str | None,
    state_dir: Path,
    src_store: str | None,
    dst_store: str | None,
    control_store: str | None,
    host_network: bool,
    protocol: Any,
    ip_family: Any,
    mtu: bool,
    namespace: str,
    port: int | None,
    pod_wait_time: float,
    output: str,
    keep: bool,
    sample: int | None,
    count: int,
    timeout: float,
    concurrency: int,
) -> None:
    """Check connectivity between every pair of floaters across clusters, and explain."""
    networks: tuple[Network, ...] = ("pod", "host") if host_network else ("pod",)
    options = MatrixOptions(
        networks=networks,
        protocol=protocol,
        ip_family=ip_family,
        mtu=mtu,
        sample=sample,
        count=count,
        timeout=timeout,
        concurrency=concurrency,
        port=port,
    )
    if lab_name is not None:
        if src_store or dst_store:
            raise BadInputError("--lab and --src-store/--dst-store exclude each other")
        lab = lab_floaters(lab_name, state_dir)
        control = control_store or lab.control_store
        request = DoctorRequest(
            lab.member_stores,
            control,
            namespace,
            options,
            pod_wait_time,
            keep,
            lab.expected,
            lab.down,
        )
    elif src_store:
        stores = (src_store, dst_store) if dst_store else (src_store,)
        request = DoctorRequest(stores, control_store, namespace, options, pod_wait_time, keep)
    else:
        raise BadInputError("say what to check: --lab NAME, or --src-store URL [--dst-store URL]")
    console = _stderr()
    try:
        with _progress(console) as progress:
            run = run_doctor(request, _observers(progress, console))
    except DoctorError as exc:
        raise click.ClickException(str(exc)) from None
    _render(run, output, console)
    if not run.summary.ok:
        sys.exit(EXIT_NOT_ALL_PASSED)
