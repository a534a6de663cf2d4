"""``kosmosctl install``, ``join cluster``, ``unjoin cluster`` and ``uninstall``.

Flags follow upstream's kosmosctl (see docs/install.md). A cluster is named by a kubeconfig
(``--kubeconfig``/``--context`` for the member, ``--host-kubeconfig``/``--host-context``
for the control plane; both default to kubectl's discovery) or, for the lab's embedded
stores, by ``--store`` (control plane) and ``--member-store``. The work itself is
:mod:`clusterlink.deploy.lifecycle`; this module reads flags and reports.

The flags the commands share come in three bundles, each a decorator that hands the command
one frozen value: :func:`control_plane_options` (:class:`ClusterFlags`, install and
uninstall), :func:`membership_options` (:class:`MembershipFlags`, join and unjoin) and
:func:`deploy_options` (:class:`DeployFlags`, install and join).

Exit status: 0 done, 1 refused by the preflight or failed (the message says what was left),
2 unusable flags.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import click
import yaml

from clusterlink.api.constants import CONTROL_CLUSTER_NAME, DEFAULT_NAMESPACE
from clusterlink.cli.cluster_endpoints import opened
from clusterlink.cli.output import BadInputError
from clusterlink.cli.progress import ConsoleReporter
from clusterlink.deploy.joining import JoinOptions, parse_cidr_map
from clusterlink.deploy.lifecycle import (
    Endpoint,
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
Command = Callable[..., Any]
Decorator = Callable[[Command], Command]


def _decorated(function: Command, options: Sequence[Decorator]) -> Command:
    """``function`` with ``options`` applied so that ``--help`` lists them in this order."""
    for option in reversed(options):
        function = option(function)
    return function


# --- where the clusters are ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterFlags:
    """One cluster as the flags name it: a kubeconfig (and context) or a store URL (the lab)."""

    kubeconfig: str | None = None
    context: str | None = None
    store_url: str | None = None

    def open(self, label: str, *, server: str | None = None) -> AbstractContextManager[Endpoint]:
        """The cluster, closed on exit; ``server`` is the API server URL member pods use."""
        return opened(
            label,
            kubeconfig=self.kubeconfig,
            context=self.context,
            store_url=self.store_url,
            server=server,
        )


_STORE_OPTION = click.option("--store", "store_url", help="Control plane as a store URL (the lab).")


def control_plane_options(function: Command) -> Command:
    """``--kubeconfig``, ``--context``, ``--store`` of the control plane (install, uninstall);
    the command receives ``control`` (a :class:`ClusterFlags`)."""

    @functools.wraps(function)
    def with_control_plane(
        *args: Any,
        kubeconfig: str | None,
        context: str | None,
        store_url: str | None,
        **kwargs: Any,
    ) -> Any:
        control = ClusterFlags(kubeconfig, context, store_url)
        return function(*args, control=control, **kwargs)

    return _decorated(
        with_control_plane,
        [
            click.option("--kubeconfig", help="Kubeconfig of the control-plane cluster."),
            click.option("--context", help="Context in that kubeconfig."),
            _STORE_OPTION,
        ],
    )


@dataclass(frozen=True, slots=True)
class MembershipFlags:
    """A member (``--name`` and where it is) and the control plane it joins or leaves."""

    name: str
    member: ClusterFlags
    control: ClusterFlags

    def require_member(self) -> None:
        if not self.member.kubeconfig and not self.member.store_url:
            raise BadInputError("name the member: --kubeconfig FILE or --member-store URL")


def membership_options(function: Command) -> Command:
    """The member's and the control plane's flags (join, unjoin); the command receives
    ``membership`` (a :class:`MembershipFlags`)."""

    @functools.wraps(function)
    def with_membership(
        *args: Any,
        name: str,
        kubeconfig: str | None,
        context: str | None,
        member_store: str | None,
        host_kubeconfig: str | None,
        host_context: str | None,
        store_url: str | None,
        **kwargs: Any,
    ) -> Any:
        membership = MembershipFlags(
            name,
            member=ClusterFlags(kubeconfig, context, member_store),
            control=ClusterFlags(host_kubeconfig, host_context, store_url),
        )
        return function(*args, membership=membership, **kwargs)

    return _decorated(
        with_membership,
        [
            click.option("--name", required=True, help="Name of the Cluster object."),
            click.option("--kubeconfig", help="Kubeconfig of the member cluster."),
            click.option("--context", help="Context in that kubeconfig."),
            click.option("--member-store", help="Member as a store URL (the lab)."),
            click.option(
                "--host-kubeconfig", help="Kubeconfig of the control plane (default: kubectl's)."
            ),
            click.option("--host-context", help="Context in that kubeconfig."),
            _STORE_OPTION,
        ],
    )


# --- what to deploy and how ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeployFlags:
    """The flags of :func:`deploy_options`: what install and join write, and how they run."""

    control_plane_server: str | None
    settings: DeploySettings
    cni: str
    default_nic: str
    network_type: str
    ip_family: str
    dry_run: bool
    output: str
    wait: bool
    wait_timeout: float
    pod_cidrs: tuple[str, ...]
    service_cidrs: tuple[str, ...]
    enable_link: bool = True
    global_cidrs_map: str = ""

    def join_options(self, name: str) -> JoinOptions:
        """The join of ``name`` these flags ask for; a bad ``--global-cidrs-map`` is an error."""
        try:
            mapping = parse_cidr_map(self.global_cidrs_map)
        except ValueError as exc:
            raise BadInputError(f"--global-cidrs-map: {exc}") from None
        return JoinOptions(
            name=name,
            settings=self.settings,
            cni=self.cni,
            default_nic=self.default_nic,
            network_type=self.network_type,
            ip_family=self.ip_family,
            enable_link=self.enable_link,
            global_cidrs_map=mapping,
            pod_cidrs=self.pod_cidrs,
            service_cidrs=self.service_cidrs,
        )

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(ready=self.wait_timeout)


def _cidrs(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _settings(namespace: str, image_repository: str, image_version: str | None) -> DeploySettings:
    if image_version:
        return DeploySettings(namespace, image_repository, image_version)
    return DeploySettings(namespace, image_repository)


_COMMON_DEPLOY_OPTIONS: tuple[Decorator, ...] = (
    click.option(
        "--control-plane-server",
        help="API server URL of the control plane as member pods reach it "
        "(default: the kubeconfig's).",
    ),
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

_JOIN_ONLY_OPTIONS: tuple[Decorator, ...] = (
    click.option("--enable-link/--disable-link", default=True, show_default=True),
    click.option("--global-cidrs-map", default="", help="REAL_CIDR=GLOBAL_CIDR,... (conflicts)."),
)

_CIDR_OPTIONS: tuple[Decorator, ...] = (
    click.option(
        "--pod-cidrs", default="", help="Pod CIDRs, comma-separated (default: discovered)."
    ),
    click.option(
        "--service-cidrs", default="", help="Service CIDRs, comma-separated (default: discovered)."
    ),
)


def deploy_options(*, for_join: bool) -> Decorator:
    """Image, link and run flags of install and join; the command receives ``deploy`` (a
    :class:`DeployFlags`). ``for_join`` adds ``--enable-link/--disable-link`` and
    ``--global-cidrs-map``: install always links its own cluster, unmapped."""

    def decorate(function: Command) -> Command:
        @functools.wraps(function)
        def with_deploy_flags(
            *args: Any,
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
            enable_link: bool = True,
            global_cidrs_map: str = "",
            **kwargs: Any,
        ) -> Any:
            deploy = DeployFlags(
                control_plane_server=control_plane_server,
                settings=_settings(namespace, image_repository, image_version),
                cni=cni,
                default_nic=default_nic,
                network_type=network_type,
                ip_family=ip_family,
                dry_run=dry_run,
                output=output,
                wait=wait,
                wait_timeout=wait_timeout,
                pod_cidrs=_cidrs(pod_cidrs),
                service_cidrs=_cidrs(service_cidrs),
                enable_link=enable_link,
                global_cidrs_map=global_cidrs_map,
            )
            return function(*args, deploy=deploy, **kwargs)

        join_only = _JOIN_ONLY_OPTIONS if for_join else ()
        return _decorated(with_deploy_flags, [*_COMMON_DEPLOY_OPTIONS, *join_only, *_CIDR_OPTIONS])

    return decorate


# --- reporting -------------------------------------------------------------------------------


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


# --- install / uninstall ---------------------------------------------------------------------


def teardown_option(function: Command) -> Command:
    """``--teardown-timeout`` of unjoin and uninstall; the command receives ``timeouts``."""

    @functools.wraps(function)
    def with_teardown_timeout(*args: Any, teardown_timeout: float, **kwargs: Any) -> Any:
        return function(*args, timeouts=Timeouts(teardown=teardown_timeout), **kwargs)

    option = click.option(
        "--teardown-timeout",
        type=click.FloatRange(min=0),
        default=Timeouts().teardown,
        show_default=True,
        help="Seconds to wait for the network-manager to delete the cluster's NodeConfigs "
        "(their agents then clean the nodes) before removing the agents anyway.",
    )
    return option(with_teardown_timeout)


@click.command("install")
@control_plane_options
@deploy_options(for_join=False)
def install_command(*, control: ClusterFlags, deploy: DeployFlags) -> None:
    """Install the control plane and join its own cluster as kosmos-control-cluster."""
    options = deploy.join_options(CONTROL_CLUSTER_NAME)
    if deploy.dry_run:
        manifests = dry_run_manifests(control_cluster_options(options), install=True)
        _print_manifests(manifests, deploy.output)
        return
    reporter = ConsoleReporter()
    with control.open("control plane", server=deploy.control_plane_server) as endpoint:
        try:
            report = install(
                endpoint, options, reporter, wait=deploy.wait, timeouts=deploy.timeouts
            )
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    _finish(reporter, report)
    reporter.say(f"installed; {CONTROL_CLUSTER_NAME} joined")


@click.command("uninstall")
@control_plane_options
@teardown_option
def uninstall_command(*, control: ClusterFlags, timeouts: Timeouts) -> None:
    """Remove what install created (refused while other clusters are joined).

    The control cluster's own join goes first, as unjoin does it: its controller-manager
    and elector stop, its Cluster and ClusterNodes go, the network-manager (still running)
    deletes its NodeConfigs and the agents clean their nodes; then the agents and the
    control plane are removed."""
    reporter = ConsoleReporter()
    with control.open("control plane") as endpoint:
        try:
            removed = uninstall(endpoint, reporter, timeouts=timeouts)
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    if removed:
        reporter.say(f"uninstalled: {removed} objects removed")


# --- join / unjoin ---------------------------------------------------------------------------


@click.group("join")
def join_group() -> None:
    """Join a cluster to the federation."""


def _join_or_dry_run(
    control: Endpoint,
    member: Endpoint,
    options: JoinOptions,
    deploy: DeployFlags,
    reporter: ConsoleReporter,
) -> PreflightReport:
    """The join; with ``--dry-run`` only its preflight and the manifests it would write."""
    if not deploy.dry_run:
        return join(control, member, options, reporter, wait=deploy.wait, timeouts=deploy.timeouts)
    report = preflight(control, member, options, reporter)
    _print_manifests(dry_run_manifests(options, install=False), deploy.output)
    if not report.passed:
        raise RefusedError(report)
    return report


@join_group.command("cluster")
@membership_options
@deploy_options(for_join=True)
def join_cluster_command(*, membership: MembershipFlags, deploy: DeployFlags) -> None:
    """Create the Cluster object and install the member's components, after a preflight."""
    membership.require_member()
    options = deploy.join_options(membership.name)
    reporter = ConsoleReporter()
    with (
        membership.control.open("control plane", server=deploy.control_plane_server) as control,
        membership.member.open(membership.name) as member,
    ):
        try:
            report = _join_or_dry_run(control, member, options, deploy, reporter)
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    _finish(reporter, report)
    if not deploy.dry_run:
        reporter.say(f"{membership.name} joined")


@click.group("unjoin")
def unjoin_group() -> None:
    """Remove a cluster from the federation."""


@unjoin_group.command("cluster")
@membership_options
@teardown_option
def unjoin_cluster_command(*, membership: MembershipFlags, timeouts: Timeouts) -> None:
    """Remove everything join created for the cluster, and its ClusterNodes, leaving its
    nodes clean.

    In order: the member's controller-manager and elector stop; the Cluster and its
    ClusterNodes are deleted; the network-manager deletes their NodeConfigs, upon which
    the agents remove their nodes' tunnels, routes and iptables chains (waited for up to
    --teardown-timeout; NodeConfigs still there then are named, with how to clean their
    nodes); then the agents and the rest of the join are removed."""
    membership.require_member()
    reporter = ConsoleReporter()
    with (
        membership.control.open("control plane") as control,
        membership.member.open(membership.name) as member,
    ):
        try:
            removed = unjoin(control, member, membership.name, reporter, timeouts=timeouts)
        except (LifecycleError, StoreError) as exc:
            _fail(reporter, exc)
            return
    if removed:
        reporter.say(f"{membership.name} unjoined: {removed} objects removed")
