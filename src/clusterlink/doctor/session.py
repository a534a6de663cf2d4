"""One doctor run, start to finish: find floaters, plan, probe, judge, explain, clean up.

Store access and waiting live here; deciding (:mod:`.matrix`, :mod:`.verdicts`,
:mod:`.paths`) stays pure. When checks fail and the control store is known, a second,
short round asks the host floater of every node on the failed paths for its kernel's
route to the address, so the explanation can name a node whose routes drifted even
though its agent reports success.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterlink.doctor.exchange import (
    Progress,
    Registered,
    collect_outcomes,
    publish_plans,
    remove_run,
    wait_for_floaters,
)
from clusterlink.doctor.matrix import (
    Check,
    ClusterNetwork,
    Matrix,
    MatrixOptions,
    build_matrix,
    global_address,
)
from clusterlink.doctor.paths import Explanation, explain
from clusterlink.doctor.report import Summary, summarize
from clusterlink.doctor.verdicts import CheckResult, judge
from clusterlink.floater.messages import FloaterInfo
from clusterlink.floater.outcome import PlanOutcome, RouteLookup
from clusterlink.floater.plan import ProbePlan
from clusterlink.store import ObjectStore, StoreError, open_store

ROUTE_ROUND_TIMEOUT = 10.0
COLLECT_MARGIN = 10.0


def _quiet(_: int, __: int) -> None:
    return None


def _ignore(_: Matrix) -> None:
    return None


@dataclass(frozen=True, slots=True)
class DoctorRequest:
    member_stores: tuple[str, ...]
    control_store: str | None
    namespace: str
    options: MatrixOptions
    wait: float = 30.0
    keep: bool = False
    expected: frozenset[str] | None = None  # floater names that must register first
    not_running: Mapping[str, str] = field(default_factory=dict)  # name -> why
    only_expected: bool = False  # probe only ``expected``; other registrations are ignored


@dataclass(frozen=True, slots=True)
class Observers:
    floaters: Progress = _quiet
    planned: Callable[[Matrix], None] = _ignore
    results: Progress = _quiet


@dataclass(frozen=True, slots=True)
class DoctorRun:
    matrix: Matrix
    results: tuple[CheckResult, ...]
    explanations: tuple[Explanation, ...]
    summary: Summary


class DoctorError(RuntimeError):
    """The doctor could not run at all (no store, no floaters); the message says why."""


@contextlib.contextmanager
def _opened(urls: Sequence[str]) -> Iterator[dict[str, ObjectStore]]:
    stores: dict[str, ObjectStore] = {}
    try:
        for url in urls:
            try:
                stores[url] = open_store(url)
            except (StoreError, ValueError) as exc:
                raise DoctorError(f"cannot open store {url}: {exc}") from None
        yield stores
    finally:
        for store in stores.values():
            store.close()


def cluster_networks(control: ObjectStore) -> dict[str, ClusterNetwork]:
    networks: dict[str, ClusterNetwork] = {}
    for cluster in control.list("Cluster").items:
        options = (cluster.get("spec") or {}).get("clusterLinkOptions") or {}
        status = ((cluster.get("status") or {}).get("clusterLinkStatus")) or {}
        cidrs = status.get("podCIDRs") or options.get("podCIDRs") or []
        networks[cluster["metadata"]["name"]] = ClusterNetwork(
            tuple(cidrs), dict(options.get("globalCIDRsMap") or {})
        )
    return networks


def gateway_nodes(control: ObjectStore) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for node in control.list("ClusterNode").items:
        spec = node.get("spec") or {}
        if any(str(role).lower() == "gateway" for role in spec.get("roles") or []):
            found.add((str(spec.get("clusterName", "")), str(spec.get("nodeName", ""))))
    return found


def _collect_timeout(matrix: Matrix) -> float:
    """Enough for a plan whose every probe goes unanswered, plus the stores' latency. A
    target's TCP and HTTP probes run one after the other (on one connection), so a probe
    may wait for two probes' timeouts."""
    options = matrix.options
    worst_probe = 2 * options.count * (options.timeout + options.interval) + options.timeout
    widest = max((plan.probe_count for _, plan in matrix.plans), default=0)
    rounds = -(-widest // options.concurrency)
    return rounds * worst_probe + COLLECT_MARGIN


def run_doctor(request: DoctorRequest, observe: Observers = Observers()) -> DoctorRun:
    started = time.monotonic()
    run = secrets.token_hex(6)
    urls = tuple(dict.fromkeys(request.member_stores))
    with (
        _opened(urls) as stores,
        _opened((request.control_store,) if request.control_store else ()) as controls,
    ):
        control = next(iter(controls.values()), None)
        found = wait_for_floaters(
            stores, request.namespace, request.expected, request.wait, observe.floaters
        )
        if request.only_expected and request.expected is not None:
            found = [r for r in found if r.info.name in request.expected]
        if not found:
            raise DoctorError(
                f"no floater registered in namespace {request.namespace} of "
                f"{', '.join(urls)} within {request.wait:.0f} s"
            )
        clusters = cluster_networks(control) if control is not None else {}
        gateways = gateway_nodes(control) if control is not None else set()
        floaters = [r.info for r in found]
        matrix = build_matrix(run, floaters, request.options, clusters, gateways)
        observe.planned(matrix)
        store_of = {r.info.name: stores[r.store] for r in found}
        try:
            publish_plans(matrix, store_of, request.namespace)
            answers = collect_outcomes(
                matrix,
                store_of,
                request.namespace,
                _collect_timeout(matrix),
                skip=set(request.not_running),
                progress=observe.results,
            )
            results = judge(matrix, answers, request.not_running)
            if not all(r.passed for r in results):
                results = _confirm(matrix, results, store_of, request)
            explanations: list[Explanation] = []
            if control is not None and not all(r.passed for r in results):
                configs = {c["metadata"]["name"]: c for c in control.list("NodeConfig").items}
                sources = frozenset(source.name for source, _ in matrix.plans)
                evidence = _Evidence(
                    run, request, found, store_of, answers, clusters, configs, sources
                )
                explanations = _explain(results, evidence)
        finally:
            if not request.keep:  # the run, its confirmation (r) and route (k) rounds
                runs = (run, f"{run}r", f"{run}k")
                remove_run(list(stores.values()), request.namespace, runs)
    summary = summarize(matrix, results, time.monotonic() - started)
    return DoctorRun(matrix, tuple(results), tuple(explanations), summary)


def _confirm(
    matrix: Matrix,
    results: list[CheckResult],
    store_of: Mapping[str, ObjectStore],
    request: DoctorRequest,
) -> list[CheckResult]:
    """Probe the failed checks once more and keep the second verdict: a failure that does
    not repeat was a lost packet or a starved process, not a broken path."""
    failed = {r.check for r in results if r.status == "FAILED"}
    if not failed:
        return results
    run = f"{matrix.run}r"
    plans: list[tuple[FloaterInfo, ProbePlan]] = []
    for source, plan in matrix.plans:
        wanted = {c.target_id for c in failed if c.source == source}
        if wanted:
            targets = tuple(t for t in plan.targets if t.id in wanted)
            plans.append((source, dataclasses.replace(plan, run=run, targets=targets)))
    checks = tuple(c for c in matrix.checks if c in failed)
    retry = Matrix(run, checks, tuple(plans), matrix.options)
    publish_plans(retry, store_of, request.namespace)
    answers = collect_outcomes(
        retry, store_of, request.namespace, _collect_timeout(retry), skip=request.not_running
    )
    again = {(r.check, r.protocol): r for r in judge(retry, answers, request.not_running)}
    return [again.get((r.check, r.protocol), r) for r in results]


def _failed_checks(results: Sequence[CheckResult]) -> dict[Check, tuple[str, ...]]:
    failed: dict[Check, tuple[str, ...]] = {}
    for result in results:
        if result.status == "FAILED":
            failed[result.check] = (*failed.get(result.check, ()), result.protocol)
    return failed


def _reply_address(check: Check, clusters: Mapping[str, ClusterNetwork]) -> str:
    own = check.source.address(check.family) or ""
    if check.network == "pod":
        return global_address(own, clusters.get(check.source.cluster))
    return own


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What explaining failures needs from the run so far."""

    run: str
    request: DoctorRequest
    found: Sequence[Registered]
    store_of: Mapping[str, ObjectStore]
    answers: Mapping[str, PlanOutcome]
    clusters: Mapping[str, ClusterNetwork]
    configs: Mapping[str, Mapping[str, Any]]
    sources: frozenset[str]

    @property
    def silent(self) -> set[str]:
        """Source floaters that never answered their plan."""
        return set(self.sources) - set(self.answers)


def _explain(results: Sequence[CheckResult], evidence: _Evidence) -> list[Explanation]:
    failed = _failed_checks(results)
    configs, clusters = evidence.configs, evidence.clusters
    first = [
        explain(check, protocols, _reply_address(check, clusters), configs, {})
        for check, protocols in failed.items()
    ]
    kernel = _kernel_routes(first, evidence)
    explanations: list[Explanation] = []
    for check, protocols in failed.items():
        explanation = explain(check, protocols, _reply_address(check, clusters), configs, kernel)
        down = evidence.request.not_running.get(check.destination.name)
        if down is None and check.destination.name in evidence.silent:
            down = "did not answer its own plan either"
        if down is not None:
            explanation = Explanation(
                check,
                protocols,
                explanation.forward,
                explanation.reply,
                f"the destination floater {check.destination.name} {down}: its node or "
                "network is probably down",
                check.destination.node_config,
            )
        explanations.append(explanation)
    return explanations


def _kernel_routes(
    explanations: Iterable[Explanation], evidence: _Evidence
) -> dict[tuple[str, str], RouteLookup]:
    """Round two: each node's host floater reports its kernel's routes for the addresses
    that the failed paths send through it."""
    host_floater: dict[str, FloaterInfo] = {
        r.info.node_config: r.info
        for r in evidence.found
        if r.info.network == "host" and r.info.name not in evidence.request.not_running
    }
    wanted: dict[str, set[str]] = {}
    for explanation in explanations:
        check = explanation.check
        for hops, address in (
            (explanation.forward, check.address),
            (explanation.reply, _reply_address(check, evidence.clusters)),
        ):
            for hop in hops:
                if hop.cidr and address and hop.node in host_floater:
                    wanted.setdefault(hop.node, set()).add(address)
    if not wanted:
        return {}
    run = f"{evidence.run}k"
    plans = tuple(
        (host_floater[node], ProbePlan(run, host_floater[node].name, (), routes=tuple(sorted(a))))
        for node, a in wanted.items()
    )
    matrix = Matrix(run, (), plans, evidence.request.options)
    namespace = evidence.request.namespace
    publish_plans(matrix, evidence.store_of, namespace)
    replies = collect_outcomes(matrix, evidence.store_of, namespace, ROUTE_ROUND_TIMEOUT)
    by_name = {info.name: node for node, info in host_floater.items()}
    return {
        (by_name[name], lookup.address): lookup
        for name, outcome in replies.items()
        for lookup in outcome.routes
    }
