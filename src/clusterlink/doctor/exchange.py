"""The doctor's side of the floater protocol: registrations in, plans out, results back.

Everything goes through the member clusters' stores (the Kubernetes API in production), so
the doctor needs no route to pod or node addresses, and every floater probes at once.
Answers are followed with a watch per store, so each is read once, as soon as it is
written, however many floaters answer. Waits are bounded and report progress through a
callback. Plans go out and runs are cleaned up on every store at once: clusters are
independent, and on real ones each store write is an API round trip.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from clusterlink.controllers.informer import Informer
from clusterlink.doctor.matrix import Matrix
from clusterlink.floater.messages import (
    APP,
    APP_LABEL,
    RESULT_OF_LABEL,
    RUN_LABEL,
    FloaterInfo,
    parse_registration,
    plan_document,
    result_from,
)
from clusterlink.floater.outcome import PlanOutcome
from clusterlink.floater.plan import PlanError
from clusterlink.store.errors import AlreadyExistsError, NotFoundError, StoreError
from clusterlink.store.kube.errors import ForbiddenError
from clusterlink.store.protocol import EventType, ObjectStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)
POLL = 0.1
STORE_WORKERS = 16  # stores written at once

_T = TypeVar("_T")


def _quiet(_: int, __: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Registered:
    """A floater and the store (URL) it registered in, where its plans go."""

    info: FloaterInfo
    store: str


def registrations(store: ObjectStore, namespace: str) -> list[FloaterInfo]:
    """The floaters registered in one store; unreadable registrations are skipped."""
    found: list[FloaterInfo] = []
    listed = store.list("ConfigMap", namespace=namespace, label_selector=f"{APP_LABEL}={APP}")
    for document in listed.items:
        if RUN_LABEL in (document["metadata"].get("labels") or {}):
            continue
        try:
            found.append(parse_registration(document))
        except (PlanError, KeyError, ValueError) as exc:
            log.warning("skipping registration %s: %s", document["metadata"]["name"], exc)
    return found


def wait_for_floaters(
    stores: Mapping[str, ObjectStore],
    namespace: str,
    expected: Collection[str] | None,
    timeout: float,
    progress: Progress = _quiet,
) -> list[Registered]:
    """Registered floaters, once every ``expected`` name is there (or at least one per store
    when nothing is expected), or what is there when ``timeout`` expires."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            Registered(info, url)
            for url, store in stores.items()
            for info in registrations(store, namespace)
        ]
        names = {r.info.name for r in found}
        if expected is not None:
            progress(len(names & set(expected)), len(expected))
            done = set(expected) <= names
        else:
            progress(len(found), len(found))
            done = all(any(r.store == url for r in found) for url in stores)
        if done or time.monotonic() >= deadline:
            return found
        time.sleep(POLL)


def _on_each(work: Callable[[_T], None], items: Sequence[_T]) -> None:
    """``work`` on every item, in parallel (at most :data:`STORE_WORKERS` at a time); once
    all are done, the first item's exception (in ``items`` order), if any, is raised."""
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    workers = min(STORE_WORKERS, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="doctor-store") as pool:
        futures = [pool.submit(work, item) for item in items]
    for future in futures:
        future.result()


def publish_plans(matrix: Matrix, store_of: Mapping[str, ObjectStore], namespace: str) -> None:
    """Write each source floater's plan next to its registration.

    The stores are written in parallel: clusters are independent, and on real ones every
    write is an API round trip, so the time is that of the busiest cluster rather than the
    sum over all. Each store gets its plans in one :meth:`~ObjectStore.create_many`: on the
    embedded store that is one commit, so every floater of the cluster wakes once and finds
    its plan, where a commit per plan woke them all once per plan and the floaters' watches,
    which poll at most once per poll interval, found the later plans only that much later.
    A failure is raised once every store is done, as the first failing store's exception."""
    by_store: dict[int, tuple[ObjectStore, list[dict[str, Any]]]] = {}
    for source, plan in matrix.plans:
        store = store_of[source.name]
        by_store.setdefault(id(store), (store, []))[1].append(plan_document(plan, namespace))

    def publish(job: tuple[ObjectStore, list[dict[str, Any]]]) -> None:
        store, documents = job
        try:
            store.create_many(documents)
            return
        except AlreadyExistsError:
            pass  # a plan of this run is there already (published again): one at a time
        for document in documents:
            try:
                store.create(document)
            except AlreadyExistsError:
                store.update(document)

    _on_each(publish, list(by_store.values()))


def _answer_of(document: Mapping[str, Any], run: str) -> tuple[str, PlanOutcome] | None:
    """(floater, its answer) when ``document`` is a result of ``run``; an unreadable result
    is an answer too, saying so."""
    of = (document["metadata"].get("labels") or {}).get(RESULT_OF_LABEL)
    if not isinstance(of, str):
        return None
    try:
        return of, result_from(document)
    except (PlanError, KeyError, ValueError) as exc:
        return of, PlanOutcome(run, of, (), 0.0, f"bad result: {exc}")


def _watch_results(
    stores: Collection[ObjectStore], namespace: str, run: str, arrived: queue.Queue[dict[str, Any]]
) -> list[Informer]:
    """An informer per store on the run's results, handing every new or changed one to
    ``arrived``: each result is read once, when it is written, instead of every store
    being listed again and again until the last answer is in."""

    def handle(event: EventType, document: dict[str, Any]) -> None:
        if event != "DELETED":
            arrived.put(document)

    informers: list[Informer] = []
    for store in stores:
        informer = Informer(
            store,
            "ConfigMap",
            handle,
            namespace=namespace,
            label_selector=f"{RUN_LABEL}={run},{RESULT_OF_LABEL}",
        )
        informer.start()
        informers.append(informer)
    return informers


def collect_outcomes(
    matrix: Matrix,
    store_of: Mapping[str, ObjectStore],
    namespace: str,
    timeout: float,
    *,
    skip: Collection[str] = (),
    progress: Progress = _quiet,
) -> dict[str, PlanOutcome]:
    """The answers of the plans' floaters (by floater name) that arrive before ``timeout``;
    floaters in ``skip`` are known not to run and are not waited for."""
    waiting = {source.name for source, _ in matrix.plans} - set(skip)
    answers: dict[str, PlanOutcome] = {}
    deadline = time.monotonic() + timeout
    progress(0, len(waiting))
    if not waiting:
        return answers
    arrived: queue.Queue[dict[str, Any]] = queue.Queue()
    stores = {id(store): store for store in store_of.values()}
    informers = _watch_results(stores.values(), namespace, matrix.run, arrived)
    try:
        while not set(answers) >= waiting:
            try:
                document = arrived.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            answer = _answer_of(document, matrix.run)
            if answer is not None and answer[0] in waiting and answer[0] not in answers:
                answers[answer[0]] = answer[1]
                progress(len(answers), len(waiting))
    finally:
        for informer in informers:
            informer.stop()
    return answers


def remove_run(stores: Collection[ObjectStore], namespace: str, runs: Sequence[str]) -> None:
    """Delete the plans and results of ``runs``: one collection delete per store (one API
    round trip per cluster instead of one per object, one write transaction on an embedded
    store), the stores in parallel since clusters are independent. A store that fails is
    logged and left behind: cleanup must not hide the run's outcome."""
    selector = f"{RUN_LABEL} in ({','.join(runs)})"

    def clean(store: ObjectStore) -> None:
        try:
            _delete_runs(store, namespace, selector)
        except StoreError as exc:
            log.warning("cannot remove runs %s: %s", ", ".join(runs), exc)

    _on_each(clean, list(stores))


def _delete_runs(store: ObjectStore, namespace: str, selector: str) -> None:
    try:
        store.delete_collection("ConfigMap", namespace, label_selector=selector)
        return
    except ForbiddenError:
        pass  # allowed to delete but not to deletecollection: one object at a time
    listed = store.list("ConfigMap", namespace=namespace, label_selector=selector)
    for document in listed.items:
        with contextlib.suppress(NotFoundError):
            store.delete("ConfigMap", document["metadata"]["name"], namespace)
