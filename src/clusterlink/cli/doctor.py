"""``kosmosctl dr`` (also ``check``): probe every pair of floaters and explain what fails.

Three ways to name the clusters. Upstream's ``--src-kubeconfig``/``--dst-kubeconfig`` (with
``--src-context``/``--dst-context``; none: kubectl's default kubeconfig): floaters are
deployed as DaemonSets for the check and removed afterwards (see
:mod:`clusterlink.doctor.deployment`). ``--src-store``/``--dst-store`` URLs: floaters
already run and register there. ``--lab NAME``: a running lab's floaters. Plans and
results travel through the member stores, so this command only needs API access. Progress
and the plan size go to standard error; the report goes to standard output (``-o html >
report.html``). Exit status 0 only when every probe passed.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clusterlink.cli.cluster_endpoints import kube_url
from clusterlink.cli.output import BadInputError, print_table
from clusterlink.deploy.settings import DEFAULT_IMAGE_REPOSITORY, DeploySettings
from clusterlink.doctor.deployment import (
    DeploymentError,
    DeployOptions,
    MemberSpec,
    floaters_running,
)
from clusterlink.doctor.deployment import (
    Progress as WaitProgress,
)
from clusterlink.doctor.html import render_html
from clusterlink.doctor.matrix import (
    DEFAULT_COUNT,
    FAMILY_CHOICES,
    PROTOCOL_CHOICES,
    Matrix,
    MatrixOptions,
)
from clusterlink.doctor.report import TABLE_COLUMNS, WIDE_COLUMNS, report_document, table_rows
from clusterlink.doctor.session import DoctorError, DoctorRequest, DoctorRun, Observers, run_doctor
from clusterlink.floater.messages import DEFAULT_NAMESPACE, DEFAULT_PORT, Network
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


def _observers(progress: Progress, console: Console) -> tuple[Observers, WaitProgress]:
    """What the doctor reports to, and the progress of waiting for deployed floaters."""
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

    return Observers(on_floaters, on_plan, on_results), on_floaters


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


@dataclass(frozen=True, slots=True)
class KubeconfigFlags:
    """One cluster named by kubeconfig flags; ``prefix`` is ``src``, ``dst`` or ``control``."""

    prefix: str
    kubeconfig: str | None
    context: str | None

    @property
    def given(self) -> bool:
        return bool(self.kubeconfig or self.context)

    @property
    def url(self) -> str:
        return kube_url(self.kubeconfig, self.context)

    def describe(self) -> str:
        words = [f"--{self.prefix}-kubeconfig {self.kubeconfig or '(kubectl default)'}"]
        if self.context:
            words.append(f"--{self.prefix}-context {self.context}")
        return " ".join(words)


@dataclass(frozen=True, slots=True)
class ImageFlags:
    namespace: str
    repository: str
    dst_repository: str | None
    version: str | None

    def settings(self, destination: bool) -> DeploySettings:
        repository = (self.dst_repository if destination else None) or self.repository
        if self.version:
            return DeploySettings(self.namespace, repository, self.version)
        return DeploySettings(self.namespace, repository)


def member_specs(
    src: KubeconfigFlags,
    dst: KubeconfigFlags,
    images: ImageFlags,
    names: tuple[str | None, str | None],
) -> tuple[MemberSpec, ...]:
    """The members to deploy floaters in: the source, and the destination if named."""
    source = MemberSpec("source cluster", src.describe(), src.url, images.settings(False), names[0])
    if not dst.given:
        return (source,)
    destination = MemberSpec(
        "destination cluster", dst.describe(), dst.url, images.settings(True), names[1]
    )
    return source, destination


def _control_url(control_store: str | None, control: KubeconfigFlags) -> str | None:
    if control_store and control.given:
        raise BadInputError("give either --control-store or --control-kubeconfig/--control-context")
    return control.url if control.given else control_store


def _say(console: Console) -> Callable[[str], None]:
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    return say


def _check(console: Console, request: DoctorRequest) -> DoctorRun:
    with _progress(console) as progress:
        observers, _ = _observers(progress, console)
        return run_doctor(request, observers)


def _deploy_and_check(
    console: Console,
    specs: Sequence[MemberSpec],
    deploy: DeployOptions,
    request: DoctorRequest,
) -> DoctorRun:
    """Floaters deployed in ``specs``, the check of ``request`` on them, floaters removed."""
    with _progress(console) as progress:
        observers, waiting = _observers(progress, console)
        with floaters_running(specs, deploy, say=_say(console), progress=waiting) as running:
            return run_doctor(
                dataclasses.replace(
                    request,
                    member_stores=running.store_urls,
                    expected=running.floaters,
                    only_expected=True,
                ),
                observers,
            )


_kubeconfig_flags = (
    click.option(
        "--src-kubeconfig",
        type=click.Path(dir_okay=False),
        help="Kubeconfig of the source cluster: floaters are deployed there for the check "
        "(default: kubectl's, when no --lab or --src-store is given).",
    ),
    click.option("--src-context", help="Context in that kubeconfig."),
    click.option(
        "--dst-kubeconfig",
        type=click.Path(dir_okay=False),
        help="Kubeconfig of the destination cluster (default: check within the source).",
    ),
    click.option("--dst-context", help="Context in that kubeconfig."),
    click.option(
        "--src-name",
        help="The source's Cluster name (default: the CLUSTER_NAME of its ClusterLink agent, "
        "else the context's name).",
    ),
    click.option("--dst-name", help="The destination's Cluster name (default: as --src-name)."),
    click.option(
        "-r",
        "--image-repository",
        default=DEFAULT_IMAGE_REPOSITORY,
        show_default=True,
        help="Floater image: <repository>/clusterlink-floater:<version>.",
    ),
    click.option(
        "--dst-image-repository", help="Image repository in the destination (default: -r)."
    ),
    click.option("--version", "image_version", help="Floater image tag (default: kosmosctl's)."),
    click.option(
        "--control-kubeconfig",
        type=click.Path(dir_okay=False),
        help="Kubeconfig of the control plane (NodeConfigs), to explain failures.",
    ),
    click.option("--control-context", help="Context in that kubeconfig."),
)


def _with_kubeconfig_flags(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_kubeconfig_flags):
        function = option(function)
    return function


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
@click.option("--src-store", help="Store URL of the source member cluster (floaters running).")
@click.option("--dst-store", help="Store URL of the destination cluster (default: in src).")
@_with_kubeconfig_flags
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
    help="Deployed floaters serve on this port (PORT, default 8889); probes go to it "
    "(default: each floater's registered port).",
)
@click.option(
    "-w",
    "--pod-wait-time",
    type=click.FloatRange(0, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for every floater to register.",
)
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the deployed floaters, and this run's plans and results, in the clusters.",
)
@click.option(
    "--sample", type=click.IntRange(1), default=None, help="N nodes per cluster (gateways always)."
)
@click.option(
    "--count",
    type=click.IntRange(1, MAX_COUNT),
    default=DEFAULT_COUNT,
    show_default=True,
    help="Attempts per probe: echoes, connections, requests.",
)
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
    src_kubeconfig: str | None,
    src_context: str | None,
    dst_kubeconfig: str | None,
    dst_context: str | None,
    src_name: str | None,
    dst_name: str | None,
    image_repository: str,
    dst_image_repository: str | None,
    image_version: str | None,
    control_kubeconfig: str | None,
    control_context: str | None,
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
    src = KubeconfigFlags("src", src_kubeconfig, src_context)
    dst = KubeconfigFlags("dst", dst_kubeconfig, dst_context)
    control = _control_url(
        control_store, KubeconfigFlags("control", control_kubeconfig, control_context)
    )
    console = _stderr()
    if (lab_name or src_store) and (src.given or dst.given):
        raise BadInputError(
            "--src-kubeconfig/--dst-kubeconfig exclude --lab and --src-store/--dst-store"
        )
    try:
        if lab_name is not None:
            if src_store or dst_store:
                raise BadInputError("--lab and --src-store/--dst-store exclude each other")
            lab = lab_floaters(lab_name, state_dir)
            request = DoctorRequest(
                lab.member_stores,
                control or lab.control_store,
                namespace,
                options,
                pod_wait_time,
                keep,
                lab.expected,
                lab.down,
            )
            run = _check(console, request)
        elif src_store or dst_store:
            if not src_store:
                raise BadInputError("--dst-store needs --src-store")
            stores = (src_store, dst_store) if dst_store else (src_store,)
            request = DoctorRequest(stores, control, namespace, options, pod_wait_time, keep)
            run = _check(console, request)
        else:
            images = ImageFlags(namespace, image_repository, dst_image_repository, image_version)
            specs = member_specs(src, dst, images, (src_name, dst_name))
            deploy = DeployOptions(networks, port or DEFAULT_PORT, pod_wait_time, keep)
            request = DoctorRequest((), control, namespace, options, pod_wait_time, keep)
            run = _deploy_and_check(console, specs, deploy, request)
    except (DoctorError, DeploymentError) as exc:
        raise click.ClickException(str(exc)) from None
    _render(run, output, console)
    if not run.summary.ok:
        sys.exit(EXIT_NOT_ALL_PASSED)
