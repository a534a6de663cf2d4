"""What every component process shares: flags, logging, probes, signals, leader election.

A component is anything with ``start``, ``stop``, ``ready`` and ``metrics.registry``;
:func:`run_component` runs it until SIGTERM/SIGINT, behind leader election when asked, and
exits non-zero when it loses the lease (so that Kubernetes restarts it as a follower, as
client-go does).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import click
from prometheus_client import CollectorRegistry

from clusterlink.cli.logs import LogFormat, configure_logging
from clusterlink.cli.store_access import store_option
from clusterlink.controllers.leader import LeaderElector, LeaseTiming
from clusterlink.controllers.serving import ProbeServer
from clusterlink.store import ObjectStore, StoreError, open_store

log = logging.getLogger(__name__)

EXIT_LOST_LEASE = 3


class _Metrics(Protocol):
    @property
    def registry(self) -> CollectorRegistry: ...


class Component(Protocol):
    """What :func:`run_component` runs: every controller of this package fits."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def ready(self) -> bool: ...

    @property
    def metrics(self) -> _Metrics: ...


@dataclass(frozen=True)
class ProcessOptions:
    """The flags of :func:`common_options` other than ``--store``."""

    probe_port: int
    log_format: LogFormat
    verbose: bool


def common_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The store flags (:func:`store_option`), probes and logging flags of every component.

    The command receives ``store_url`` and ``process`` (a :class:`ProcessOptions`).
    """

    @functools.wraps(function)
    def with_process_options(
        *args: Any, probe_port: int, log_format: LogFormat, verbose: bool, **kwargs: Any
    ) -> Any:
        process = ProcessOptions(probe_port, log_format, verbose)
        return function(*args, process=process, **kwargs)

    options = [
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
    decorated: Callable[..., Any] = with_process_options
    for option in reversed(options):
        decorated = option(decorated)
    return store_option(decorated)


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


@contextmanager
def component_store(url: str) -> Iterator[ObjectStore]:
    """An open store, closed when the component ends; a clear error when it cannot open."""
    try:
        store = open_store(url)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(f"cannot open store {url}: {exc}") from None
    try:
        yield store
    finally:
        store.close()


def run_component(
    name: str,
    component: Component,
    process: ProcessOptions,
    elector: LeaderElector | None = None,
) -> None:
    """Run until a signal (exit 0) or a lost lease (exit 3)."""
    configure_logging(name, process.log_format, process.verbose)
    stopping = threading.Event()
    lost_lease = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    probes = None
    if process.probe_port >= 0:
        probes = ProbeServer(
            component.metrics.registry, lambda: component.ready, process.probe_port
        )
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
    component.stop()  # no more writes before another replica may take the lease
    if elector is not None:
        elector.stop(release=True)
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
