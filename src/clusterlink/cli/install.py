"""``kosmosctl install``, ``join cluster``, ``unjoin cluster`` and ``uninstall``.

Flags follow upstream's kosmosctl (see docs/install.md). A cluster is named by a kubeconfig
(``--kubeconfig``/``--context`` for the member, ``--host-kubeconfig``/``--host-context``
for the control plane; both default to kubectl's discovery) or, for the lab's embedded
stores, by ``--store`` (control plane) and ``--member-store``. The work itself is
:mod:`clusterlink.deploy.lifecycle`; this module reads flags and reports.

Exit status: 0 done, 1 refused by the preflight or failed (the message says what was left),
2 unusable flags.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
import yaml

from clusterlink.api.constants import CONTROL_CLUSTER_NAME, DEFAULT_NAMESPACE
from clusterlink.cli.cluster_endpoints import opened
from clusterlink.cli.output import BadInputError
from clusterlink.cli.progress import ConsoleReporter
from clusterlink.deploy.joining import JoinOptions, parse_cidr_map
from clusterlink.deploy.lifecycle import (
    LifecycleError,
    RefusedError,
    Timeouts,
    control_cluster_options,
    dry_run_manifests,
    install,
    join,
    preflight,
    uninstall,
    unjoin,
)
from clusterlink.deploy.preflight import PreflightReport
from clusterlink.deploy.settings import DEFAULT_IMAGE_REPOSITORY, DeploySettings
from clusterlink.store import StoreError

EXIT_FAILED = 1
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _options(*decorators: Decorator) -> Decorator:
    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


_host_flags = _options(
    click.option("--store", "store_url", help="Control plane as a store URL (the lab)."),
    click.option(
        "--control-plane-server",
        help="API server URL of the control plane as member pods reach it "
        "(default: the kubeconfig's).",
    ),
)

_deploy_flags = _options(
    click.option("-n", "--namespace", default=DEFAULT_NAMESPACE, show_default=True),
    click.option(
        "-r",
        "--private-image-registry",
        "image_repository",
        default=DEFAULT_IMAGE_REPOSITORY,
        show_default=True,
        help="Image repository: images are <repository>/clusterlink-<component>:<version>.",
    ),
    click.option("--version", "image_version", help="Image tag (default: this kosmosctl's)."),
    click.option("--cni", default="calico", show_default=True),
    click.option(
        "--default-nic",
        default="*",
        show_default=True,
        help="NIC carrying the tunnels on every node ('*': the default route's).",
    ),
    click.option(
        "--network-type",
        type=click.Choice(["p2p", "gateway"]),
        default="gateway",
        show_default=True,
    ),
    click.option(
        "--ip-family",
        type=click.Choice(["all", "ipv4", "ipv6"]),
        default="ipv4",
        show_default=True,
    ),
    click.option("--dry-run", is_flag=True, help="Print every manifest; change nothing."),
    click.option(
        "-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
    ),
    click.option("--wait", is_flag=True, help="Wait until the components are ready."),
    click.option("--wait-timeout", type=float, default=300.0, show_default=True, help="Seconds."),
)


_cidr_flags = _options(
    click.option(
        "--pod-cidrs", default="", help="Pod CIDRs, comma-separated (default: discovered)."
    ),
    click.option(
        "--service-cidrs", default="", help="Service CIDRs, comma-separated (default: discovered)."
    ),
)


def _cidrs(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _settings(namespace: str, image_repository: str, image_version: str | None) -> DeploySettings:
    if image_version:
        return DeploySettings(namespace, image_repository, image_version)
    return DeploySettings(namespace, image_repository)


def _print_manifests(manifests: Sequence[dict[str, Any]], output: str) -> None:
    if output == "json":
        click.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)}))
    else:
        click.echo(yaml.safe_dump_all(manifests, sort_keys=False), nl=False)


def _finish(reporter: ConsoleReporter, report: PreflightReport) -> None:
    reporter.findings([f for f in report.findings if f.severity != "error"])


def _fail(reporter: ConsoleReporter, exc: Exception) -> None:
    if isinstance(exc, RefusedError):
        reporter.findings(exc.report.findings)
    click.echo(f"Error: {exc}", err=True)
    sys.exit(EXIT_FAILED)


# --- install -----------------------------------------------------------------------------


@click.command("install")
@click.option("--kubeconfig", help="Kubeconfig of the control-plane cluster.")
@click.option("--context", help="Context in that kubeconfig.")
@_host_flags
@_deploy_flags
@_cidr_flags
def install_command(
    *,
    kubeconfig: str | None,
    context: str | None,
    store_url: str | None,
    control_plane_server: str | None,
    namespace: str,
    image_repository: str,
    image_version: str | None,
    cni: str,
    default_nic: str,
    network_type: str,
    ip_family: str,
    dry_run: bool,
    output: str,
    wait: bool,
    wait_timeout: float,
    pod_cidrs: str,
    service_cidrs: str,
) -> None:
    """Install the control plane and join its own cluster as kosmos-control-cluster."""
    options = JoinOptions(
        name=CONTROL_CLUSTER_NAME,
        settings=_settings(namespace, image_repository, image_version),
        cni=cni,
        default_nic=default_nic,
        network_type=network_type,
        ip_family=ip_family,
        pod_cidrs=_cidrs(pod_cidrs),
        service_cidrs=_cidrs(service_cidrs),
    )
    if dry_run:
        _print_manifests(dry_run_manifests(control_cluster_options(options), install=True), output)
        return
    reporter = ConsoleReporter()
    with opened(
        "control plane",
        kubeconfig=kubeconfig,
        context=context,
        store_url=store_url,
        server=control_plane_server,
    ) as control:
        try:
            report = install(
                control, options, reporter, wait=wait, timeouts=Timeouts(ready=wait_timeout)
            )
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    _finish(reporter, report)
    reporter.say(f"installed; {CONTROL_CLUSTER_NAME} joined")


@click.command("uninstall")
@click.option("--kubeconfig", help="Kubeconfig of the control-plane cluster.")
@click.option("--context", help="Context in that kubeconfig.")
@click.option("--store", "store_url", help="Control plane as a store URL (the lab).")
def uninstall_command(kubeconfig: str | None, context: str | None, store_url: str | None) -> None:
    """Remove what install created (refused while other clusters are joined)."""
    reporter = ConsoleReporter()
    with opened(
        "control plane", kubeconfig=kubeconfig, context=context, store_url=store_url
    ) as control:
        try:
            removed = uninstall(control, reporter)
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    if removed:
        reporter.say(f"uninstalled: {removed} objects removed")


# --- join / unjoin -----------------------------------------------------------------------


_member_flags = _options(
    click.option("--name", required=True, help="Name of the Cluster object."),
    click.option("--kubeconfig", help="Kubeconfig of the member cluster."),
    click.option("--context", help="Context in that kubeconfig."),
    click.option("--member-store", help="Member as a store URL (the lab)."),
    click.option("--host-kubeconfig", help="Kubeconfig of the control plane (default: kubectl's)."),
    click.option("--host-context", help="Context in that kubeconfig."),
)


def _check_member(kubeconfig: str | None, member_store: str | None) -> None:
    if not kubeconfig and not member_store:
        raise BadInputError("name the member: --kubeconfig FILE or --member-store URL")


@click.group("join")
def join_group() -> None:
    """Join a cluster to the federation."""


@join_group.command("cluster")
@_member_flags
@_host_flags
@_deploy_flags
@click.option("--enable-link/--disable-link", default=True, show_default=True)
@click.option("--global-cidrs-map", default="", help="REAL_CIDR=GLOBAL_CIDR,... (conflicts).")
@_cidr_flags
def join_cluster_command(
    *,
    name: str,
    kubeconfig: str | None,
    context: str | None,
    member_store: str | None,
    host_kubeconfig: str | None,
    host_context: str | None,
    store_url: str | None,
    control_plane_server: str | None,
    namespace: str,
    image_repository: str,
    image_version: str | None,
    cni: str,
    default_nic: str,
    network_type: str,
    ip_family: str,
    dry_run: bool,
    output: str,
    wait: bool,
    wait_timeout: float,
    enable_link: bool,
    global_cidrs_map: str,
    pod_cidrs: str,
    service_cidrs: str,
) -> None:
    """Create the Cluster object and install the member's components, after a preflight."""
    _check_member(kubeconfig, member_store)
    try:
        mapping = parse_cidr_map(global_cidrs_map)
    except ValueError as exc:
        raise BadInputError(f"--global-cidrs-map: {exc}") from None
    options = JoinOptions(
        name=name,
        settings=_settings(namespace, image_repository, image_version),
        cni=cni,
        default_nic=default_nic,
        network_type=network_type,
        ip_family=ip_family,
        enable_link=enable_link,
        global_cidrs_map=mapping,
        pod_cidrs=_cidrs(pod_cidrs),
        service_cidrs=_cidrs(service_cidrs),
    )
    reporter = ConsoleReporter()
    with (
        opened(
            "control plane",
            kubeconfig=host_kubeconfig,
            context=host_context,
            store_url=store_url,
            server=control_plane_server,
        ) as control,
        opened(name, kubeconfig=kubeconfig, context=context, store_url=member_store) as member,
    ):
        try:
            if dry_run:
                report = preflight(control, member, options, reporter)
                _print_manifests(dry_run_manifests(options, install=False), output)
                if not report.passed:
                    raise RefusedError(report)
            else:
                report = join(
                    control,
                    member,
                    options,
                    reporter,
                    wait=wait,
                    timeouts=Timeouts(ready=wait_timeout),
                )
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    _finish(reporter, report)
    if not dry_run:
        reporter.say(f"{name} joined")


@click.group("unjoin")
def unjoin_group() -> None:
    """Remove a cluster from the federation."""


@unjoin_group.command("cluster")
@_member_flags
@click.option("--store", "store_url", help="Control plane as a store URL (the lab).")
def unjoin_cluster_command(
    *,
    name: str,
    kubeconfig: str | None,
    context: str | None,
    member_store: str | None,
    host_kubeconfig: str | None,
    host_context: str | None,
    store_url: str | None,
) -> None:
    """Remove everything join created for the cluster, and nothing else."""
    _check_member(kubeconfig, member_store)
    reporter = ConsoleReporter()
    with (
        opened(
            "control plane", kubeconfig=host_kubeconfig, context=host_context, store_url=store_url
        ) as control,
        opened(name, kubeconfig=kubeconfig, context=context, store_url=member_store) as member,
    ):
        try:
            removed = unjoin(control, member, name, reporter)
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    if removed:
        reporter.say(f"{name} unjoined: {removed} objects removed")
