"""What every component process shares: flags, logging, probes, signals, leader election.

A component is a ``start``/``stop`` pair plus a readiness check; :func:`run_component`
runs it until SIGTERM/SIGINT, behind leader election when asked, and exits non-zero when
it loses the lease (so that Kubernetes restarts it as a follower, as client-go does).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from prometheus_client import CollectorRegistry

from clusterlink.cli.logs import LogFormat, configure_logging
from clusterlink.controllers.leader import LeaderElector, LeaseTiming
from clusterlink.controllers.serving import ProbeServer
from clusterlink.store import ObjectStore, StoreError, open_store

log = logging.getLogger(__name__)

EXIT_LOST_LEASE = 3


@dataclass
class Component:
    start: Callable[[], None]
    stop: Callable[[], None]
    is_ready: Callable[[], bool]
    registry: CollectorRegistry


def common_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--store``, probes and logging flags shared by every component command."""
    options = [
        click.option(
            "--store",
            "store_url",
            required=True,
            envvar="CLUSTERLINK_STORE",
            help="Store URL, e.g. sqlite:///var/lib/kosmos/control.db.",
        ),
        click.option(
            "--probe-port",
            type=int,
            default=0,
            show_default=True,
            help="Port of /healthz, /readyz and /metrics (0: any free port; -1: off).",
        ),
        click.option(
            "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
        ),
        click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def lease_options(default_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        timing = LeaseTiming()
        options = [
            click.option("--leader-elect/--no-leader-elect", default=True, show_default=True),
            click.option("--lease-name", default=default_name, show_default=True),
            click.option("--lease-namespace", default="kosmos-system", show_default=True),
            click.option(
                "--identity",
                default=f"{socket.gethostname()}-{os.getpid()}",
                show_default="hostname-pid",
            ),
            click.option(
                "--lease-duration", type=float, default=timing.lease_duration, show_default=True
            ),
            click.option(
                "--renew-deadline", type=float, default=timing.renew_deadline, show_default=True
            ),
            click.option(
                "--retry-period", type=float, default=timing.retry_period, show_default=True
            ),
        ]
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def open_component_store(url: str) -> ObjectStore:
    try:
        return open_store(url)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(f"cannot open store {url}: {exc}") from None


def run_component(
    name: str,
    component: Component,
    *,
    probe_port: int,
    log_format: LogFormat,
    verbose: bool,
    elector: LeaderElector | None = None,
) -> None:
    """Run until a signal (exit 0) or a lost lease (exit 3)."""
    configure_logging(name, log_format, verbose)
    stopping = threading.Event()
    lost_lease = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    probes = None
    if probe_port >= 0:
        probes = ProbeServer(component.registry, component.is_ready, probe_port)
        probes.start()
        log.info("serving /healthz, /readyz and /metrics on port %d", probes.port)
    if elector is None:
        component.start()
    else:
        elector.on_started_leading = component.start

        def step_down() -> None:
            if not stopping.is_set():  # not our own shutdown: the lease was lost
                lost_lease.set()
                stopping.set()

        elector.on_stopped_leading = step_down
        elector.start()
    stopping.wait()
    log.info("stopping")
    if elector is not None:
        elector.stop(release=True)
    component.stop()
    if probes is not None:
        probes.stop()
    if lost_lease.is_set():
        raise SystemExit(EXIT_LOST_LEASE)


def leader_elector(store: ObjectStore, options: dict[str, Any]) -> LeaderElector | None:
    if not options["leader_elect"]:
        return None
    timing = LeaseTiming(
        options["lease_duration"], options["renew_deadline"], options["retry_period"]
    )
    return LeaderElector(
        store, options["lease_name"], options["lease_namespace"], options["identity"], timing
    )
