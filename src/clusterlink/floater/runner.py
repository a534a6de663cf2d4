"""Runs a whole plan: every (target, protocol) probe, at most ``concurrency`` at a time.

ICMP probes (echo, path MTU) wait in ``select`` on their own sockets, so they run on a
bounded thread pool; TCP and HTTP probes are coroutines on one event loop, bounded by a
semaphore. Both kinds run at the same time, so a plan of hundreds of targets takes about
the time of its slowest few.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from clusterlink.floater.icmp import ping
from clusterlink.floater.outcome import PlanOutcome, ProbeOutcome
from clusterlink.floater.plan import ProbePlan, Protocol, Target
from clusterlink.floater.pmtu import path_mtu
from clusterlink.floater.routes import lookup_routes
from clusterlink.floater.tcp import http_get, tcp_connect

ProbeObserver = Callable[[ProbeOutcome], None]
STREAM_PROTOCOLS: tuple[Protocol, ...] = ("tcp", "http")


def _ignore(_: ProbeOutcome) -> None:
    return None


def _failed(target: Target, protocol: Protocol, exc: Exception) -> ProbeOutcome:
    """A probe that fails unexpectedly is a failed probe, not a failed plan."""
    return ProbeOutcome(target.id, target.address, protocol, 0, 0, error=repr(exc))


def run_icmp_probe(plan: ProbePlan, target: Target, protocol: Protocol) -> ProbeOutcome:
    try:
        if protocol == "mtu":
            return path_mtu(target.id, target.address, largest=plan.mtu_max, timeout=plan.timeout)
        return ping(
            target.id,
            target.address,
            count=plan.count,
            interval=plan.interval,
            timeout=plan.timeout,
        )
    except Exception as exc:
        return _failed(target, protocol, exc)


async def _stream_probe(
    plan: ProbePlan, target: Target, protocol: Protocol, bound: asyncio.Semaphore
) -> ProbeOutcome:
    probe = tcp_connect if protocol == "tcp" else http_get
    async with bound:
        try:
            return await probe(
                target.id,
                target.address,
                target.port,
                count=plan.count,
                interval=plan.interval,
                timeout=plan.timeout,
            )
        except Exception as exc:
            return _failed(target, protocol, exc)


async def _stream_probes(
    plan: ProbePlan, probes: list[tuple[Target, Protocol]]
) -> list[ProbeOutcome]:
    bound = asyncio.Semaphore(plan.concurrency)
    return list(await asyncio.gather(*(_stream_probe(plan, t, p, bound) for t, p in probes)))


def run_plan(plan: ProbePlan, observe: ProbeObserver = _ignore) -> PlanOutcome:
    started = time.monotonic()
    probes = [(target, protocol) for target in plan.targets for protocol in target.protocols]
    streams = [(t, p) for t, p in probes if p in STREAM_PROTOCOLS]
    icmp = [(t, p) for t, p in probes if p not in STREAM_PROTOCOLS]
    outcomes: list[ProbeOutcome] = []
    with ThreadPoolExecutor(max(1, min(plan.concurrency, len(icmp)))) as pool:
        futures = [pool.submit(run_icmp_probe, plan, t, p) for t, p in icmp]
        if streams:
            outcomes += asyncio.run(_stream_probes(plan, streams))
        outcomes += [future.result() for future in futures]
    for outcome in outcomes:
        observe(outcome)
    return PlanOutcome(
        plan.run,
        plan.floater,
        tuple(outcomes),
        time.monotonic() - started,
        routes=lookup_routes(plan.routes),
    )
