"""Runs a whole plan: every (target, protocol) probe, at most ``concurrency`` at a time.

Every probe is a coroutine on one event loop: ICMP echoes share one socket per family
(:class:`~clusterlink.floater.icmp.EchoChannels`), TCP and HTTP use bare non-blocking
sockets, the path-MTU search its own connected socket. ``concurrency`` workers take the
probes in plan order, so no more than that many are ever in flight and a plan of hundreds
of targets takes about the time of its slowest few, for little more CPU than the packets.
A target probed with TCP and HTTP is one job of two probes run one after the other, the
HTTP requests going over the TCP probe's connection (:func:`~.tcp.tcp_and_http`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from clusterlink.floater.icmp import EchoChannels, ping
from clusterlink.floater.outcome import PlanOutcome, ProbeOutcome
from clusterlink.floater.plan import ProbePlan, Protocol, Target
from clusterlink.floater.pmtu import path_mtu
from clusterlink.floater.routes import lookup_routes
from clusterlink.floater.tcp import http_get, tcp_and_http, tcp_connect

ProbeObserver = Callable[[ProbeOutcome], None]
Item = TypeVar("Item")
Result = TypeVar("Result")


def _ignore(_: ProbeOutcome) -> None:
    return None


def _failed(target: Target, protocol: Protocol, exc: Exception) -> ProbeOutcome:
    """A probe that fails unexpectedly is a failed probe, not a failed plan."""
    return ProbeOutcome(target.id, target.address, protocol, 0, 0, error=repr(exc))


async def bounded(
    items: Sequence[Item], concurrency: int, run: Callable[[Item], Awaitable[Result]]
) -> list[Result]:
    """``run`` of every item, in order, with at most ``concurrency`` running at once: as
    many workers share one iterator, so nothing waits on a semaphore and no task exists
    for a probe that has not started."""
    results: dict[int, Result] = {}
    pending = iter(enumerate(items))

    async def worker() -> None:
        for index, item in pending:
            results[index] = await run(item)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    return [results[index] for index in range(len(items))]


async def run_probe(
    plan: ProbePlan, channels: EchoChannels, target: Target, protocol: Protocol
) -> ProbeOutcome:
    """One probe of one target; an unexpected exception is its error, not the plan's."""
    count, interval, timeout = plan.count, plan.interval, plan.timeout
    try:
        if protocol == "ping":
            return await ping(
                channels, target.id, target.address, count=count, interval=interval, timeout=timeout
            )
        if protocol == "mtu":
            return await path_mtu(target.id, target.address, largest=plan.mtu_max, timeout=timeout)
        probe = tcp_connect if protocol == "tcp" else http_get
        return await probe(
            target.id, target.address, target.port, count=count, interval=interval, timeout=timeout
        )
    except Exception as exc:
        return _failed(target, protocol, exc)


async def run_connection(plan: ProbePlan, target: Target) -> tuple[ProbeOutcome, ...]:
    """The TCP and the HTTP probe of one target, the second on the first's connection."""
    try:
        return await tcp_and_http(
            target.id,
            target.address,
            target.port,
            count=plan.count,
            interval=plan.interval,
            timeout=plan.timeout,
        )
    except Exception as exc:
        return (_failed(target, "tcp", exc), _failed(target, "http", exc))


Job = tuple[Target, tuple[Protocol, ...]]


def jobs_of(plan: ProbePlan) -> list[Job]:
    """The plan's probes in plan order, TCP and HTTP of a target as one job."""
    jobs: list[Job] = []
    for target in plan.targets:
        both = "tcp" in target.protocols and "http" in target.protocols
        for protocol in target.protocols:
            if both and protocol == "http":
                continue
            jobs.append((target, ("tcp", "http") if both and protocol == "tcp" else (protocol,)))
    return jobs


async def run_probes(plan: ProbePlan) -> list[ProbeOutcome]:
    """Every probe of the plan, in plan order."""
    channels = EchoChannels(asyncio.get_running_loop())

    async def run(job: Job) -> tuple[ProbeOutcome, ...]:
        target, protocols = job
        if len(protocols) == 2:
            return await run_connection(plan, target)
        return (await run_probe(plan, channels, target, protocols[0]),)

    try:
        done = await bounded(jobs_of(plan), plan.concurrency, run)
    finally:
        channels.close()
    found = {(o.target, o.protocol): o for outcomes in done for o in outcomes}
    return [found[(t.id, protocol)] for t in plan.targets for protocol in t.protocols]


def run_plan(plan: ProbePlan, observe: ProbeObserver = _ignore) -> PlanOutcome:
    started = time.monotonic()
    outcomes = asyncio.run(run_probes(plan)) if plan.targets else []
    for outcome in outcomes:
        observe(outcome)
    return PlanOutcome(
        plan.run,
        plan.floater,
        tuple(outcomes),
        time.monotonic() - started,
        routes=lookup_routes(plan.routes),
    )
