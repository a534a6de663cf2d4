"""The doctor on real clusters: deploy floaters, wait until they registered, remove them.

``kosmosctl dr --src-kubeconfig A [--dst-kubeconfig B]`` applies the floater manifests of
:mod:`clusterlink.deploy.floaters` in each member with the same applier and owner labels as
``join`` (:mod:`clusterlink.deploy.applier`), waits until every pod its DaemonSets
scheduled registered (a timeout names the pods that did not and what their status says),
and afterwards deletes exactly the objects this run created. Objects that existed before
(a ``--keep`` run's floaters, an installed namespace) are reused and left alone.

The floaters must report the name their Cluster has in the control plane, since
NodeConfigs are named ``<cluster>-<node>`` and the explanation of a failure reads them. It
comes from, in order: the ``--src-name``/``--dst-name`` flag; the ``CLUSTER_NAME`` of the
ClusterLink agent DaemonSet that ``join`` installed in the member (the name the join
used); the kubeconfig context's name, a guess the doctor says it made.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from clusterlink.deploy.access_review import Right, review, rights_for
from clusterlink.deploy.applier import Applied, apply_all
from clusterlink.deploy.floaters import FloaterOptions, floater_manifests
from clusterlink.deploy.kube_target import KubeTarget
from clusterlink.deploy.ownership import Owner
from clusterlink.deploy.settings import DeploySettings
from clusterlink.deploy.targets import KIND_ORDER, ObjectId
from clusterlink.doctor.exchange import registrations
from clusterlink.floater.messages import Network, registration_name
from clusterlink.store import NotFoundError, ObjectStore, StoreError, open_store
from clusterlink.store.kube.config import load_config
from clusterlink.store.kube.errors import ForbiddenError
from clusterlink.store.kube.options import parse_kube_url

AGENT_DAEMON_SET = "clusterlink-agent"
Manifest = dict[str, Any]
Progress = Callable[[int, int], None]  # (registered, expected)
Say = Callable[[str], None]


def _silent(_: str) -> None:
    return None


def _quiet(_: int, __: int) -> None:
    return None


class DeploymentError(RuntimeError):
    """Floaters could not be deployed or did not come up; what was created is removed."""


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """A member as the user named it: ``role`` and ``flags`` appear in every message."""

    role: str  # "source cluster"
    flags: str  # "--src-kubeconfig a.yaml"
    url: str  # its kube:// store URL
    settings: DeploySettings
    cluster_name: str | None = None  # None: found out (see the module docstring)


@dataclass(frozen=True, slots=True)
class DeployOptions:
    networks: tuple[Network, ...]
    port: int
    wait: float  # seconds for every floater to register
    keep: bool = False
    poll: float = 0.5
    removal_wait: float = 30.0  # seconds for deleted floater pods to go


@dataclass(frozen=True, slots=True)
class Member:
    """An opened member: ``target`` writes every kind, ``store`` reads pods and ConfigMaps."""

    spec: MemberSpec
    target: KubeTarget
    store: ObjectStore

    def where(self, what: object) -> str:
        return f"{self.spec.role} ({self.spec.flags}): {what}"


@dataclass(frozen=True, slots=True)
class Deployed:
    """The DaemonSets a member runs floaters with, and what this run created there."""

    member: Member
    daemon_sets: tuple[ObjectId, ...]
    created: tuple[ObjectId, ...]


@dataclass(frozen=True, slots=True)
class PodState:
    name: str
    node: str
    registered: bool
    problem: str  # what its status says, for a pod that has not registered


@dataclass(frozen=True, slots=True)
class DaemonSetState:
    daemon_set: ObjectId
    desired: int | None  # None: the DaemonSet controller has not reported yet
    pods: tuple[PodState, ...]

    @property
    def registered(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pods if p.registered)

    @property
    def expected(self) -> int:
        return max(self.desired or 0, len(self.pods))

    @property
    def complete(self) -> bool:
        return bool(self.desired) and len(self.registered) >= (self.desired or 0)

    def problems(self) -> list[str]:
        if self.desired is None:
            return [f"{self.daemon_set}: the DaemonSet controller has not reported on it"]
        if self.desired == 0:
            return [
                f"{self.daemon_set}: no node is eligible (every node is labelled "
                "kosmos.io/exclude=true or is a Kosmos virtual node)"
            ]
        found = [
            f"{self.daemon_set}: pod {p.name} on node {p.node or '(none)'}: {p.problem}"
            for p in self.pods
            if not p.registered
        ]
        if len(self.pods) < self.desired:
            found.append(f"{self.daemon_set}: {len(self.pods)} of {self.desired} pods exist")
        return found


# --- opening ----------------------------------------------------------------------------


@contextlib.contextmanager
def opened(spec: MemberSpec) -> Iterator[Member]:
    """The member, reachable: a bad kubeconfig, context or server is a DeploymentError."""
    try:
        target = KubeTarget(spec.url)
    except (StoreError, ValueError) as exc:
        raise DeploymentError(f"{spec.role} ({spec.flags}): {exc}") from None
    try:
        store = open_store(spec.url)
    except (StoreError, ValueError) as exc:
        target.close()
        raise DeploymentError(f"{spec.role} ({spec.flags}): {exc}") from None
    member = Member(spec, target, store)
    try:
        _check_reachable(member)
        yield member
    finally:
        store.close()
        target.close()


def _check_reachable(member: Member) -> None:
    """One read, so that a wrong server or credentials fail before anything is written; a
    user allowed only inside the namespace may not read Namespaces, which is fine."""
    namespace = ObjectId("Namespace", member.spec.settings.namespace)
    try:
        member.target.get(namespace)
    except ForbiddenError:
        return
    except StoreError as exc:
        raise DeploymentError(member.where(exc)) from None


def cluster_name(member: Member, say: Say = _silent) -> str:
    """The member's Cluster name (see the module docstring for where it comes from)."""
    spec = member.spec
    if spec.cluster_name:
        return spec.cluster_name
    agent = ObjectId("DaemonSet", AGENT_DAEMON_SET, spec.settings.namespace)
    try:
        installed = member.target.get(agent)
    except StoreError:
        installed = None
    name = _cluster_name_env(installed or {})
    if name:
        say(f"{spec.role}: floaters report cluster {name} (CLUSTER_NAME of {agent})")
        return name
    context = load_config(spec.url, parse_kube_url(spec.url)).context_name
    say(
        f"{spec.role}: no ClusterLink agent found ({agent}); floaters report cluster "
        f"{context} (the kubeconfig context's name; name it with --src-name/--dst-name if "
        "the Cluster is named otherwise)"
    )
    return str(context)


def _cluster_name_env(daemon_set: dict[str, Any]) -> str:
    containers = (((daemon_set.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    for container in containers:
        for variable in container.get("env") or []:
            if variable.get("name") == "CLUSTER_NAME" and variable.get("value"):
                return str(variable["value"])
    return ""


# --- deploying --------------------------------------------------------------------------


def doctor_rights(namespace: str) -> list[Right]:
    """What the doctor itself does beyond writing the manifests: read pods, exchange
    ConfigMaps with the floaters."""
    verbs = ("get", "list", "create", "update", "delete")
    return [
        Right("list", "", "pods", namespace),
        *(Right(verb, "", "configmaps", namespace) for verb in verbs),
    ]


def _readable(member: Member, manifests: Sequence[dict[str, Any]], say: Say) -> list[Manifest]:
    """``manifests`` without the Namespace when the user may not read Namespaces: it is
    then taken to exist (creating the ServiceAccount in it tells otherwise)."""
    kept: list[Manifest] = []
    for manifest in manifests:
        if manifest["kind"] == "Namespace":
            try:
                member.target.get(ObjectId.of(manifest))
            except ForbiddenError:
                say(member.where(f"may not read {ObjectId.of(manifest)}; taking it to exist"))
                continue
        kept.append(manifest)
    return kept


def _to_write(member: Member, manifests: Sequence[Manifest]) -> list[Manifest]:
    """The manifests the applier will write: objects that existed before and are not the
    doctor's are left alone, so they need no rights."""
    owner = Owner.doctor()
    writing: list[Manifest] = []
    for manifest in manifests:
        current = member.target.get(ObjectId.of(manifest))
        if current is None or owner.owns(current):
            writing.append(manifest)
    return writing


def _refuse_denied(member: Member, manifests: Sequence[Manifest]) -> None:
    rights = [*rights_for(manifests), *doctor_rights(member.spec.settings.namespace)]
    findings = review(member.target, rights, member.spec.role)
    errors = [f.message for f in findings if f.severity == "error"]
    if errors:
        raise DeploymentError(f"{member.spec.role} ({member.spec.flags}): {'; '.join(errors)}")


def deploy(member: Member, options: DeployOptions, say: Say = _silent) -> Deployed:
    """The floater manifests applied in ``member``; on failure, what was created is
    removed again before the DeploymentError."""
    name = cluster_name(member, say)
    floaters = FloaterOptions(name, options.port, options.networks)
    done: list[Applied] = []
    try:
        manifests = _readable(member, floater_manifests(floaters, member.spec.settings), say)
        _refuse_denied(member, _to_write(member, manifests))
    except StoreError as exc:
        raise DeploymentError(member.where(f"cannot deploy the floaters: {exc}")) from None
    daemon_sets = tuple(ObjectId.of(m) for m in manifests if m["kind"] == "DaemonSet")
    try:
        apply_all(member.target, manifests, Owner.doctor(), done.append)
    except StoreError as exc:
        created = tuple(a.target for a in done if a.verb == "created")
        remove(Deployed(member, daemon_sets, created), options, say)
        raise DeploymentError(member.where(f"cannot deploy the floaters: {exc}")) from None
    for applied in done:
        if applied.verb != "unchanged":
            say(f"{member.spec.role}: {applied}")
    return Deployed(member, daemon_sets, tuple(a.target for a in done if a.verb == "created"))


# --- waiting ----------------------------------------------------------------------------


def pod_problem(pod: dict[str, Any]) -> str:
    """What a pod's status says keeps it from running, in kubectl's words."""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    scheduled = conditions.get("PodScheduled") or {}
    if scheduled.get("status") == "False":
        return f"not scheduled: {_reason(scheduled)}"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        for phase in ("waiting", "terminated"):
            if phase in state:
                return f"container {container.get('name', '?')} {phase}: {_reason(state[phase])}"
    ready = conditions.get("Ready") or {}
    if ready.get("status") == "False" and (ready.get("reason") or ready.get("message")):
        return f"not ready: {_reason(ready)}"
    return f"{status.get('phase') or 'Pending'}, not registered yet"


def _reason(detail: dict[str, Any]) -> str:
    words = [str(detail[k]) for k in ("reason", "message") if detail.get(k)]
    if "exitCode" in detail:
        words.append(f"exit code {detail['exitCode']}")
    return ": ".join(words) or "no reason given"


def _selector(daemon_set: dict[str, Any]) -> str:
    labels = ((daemon_set.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _desired(daemon_set: dict[str, Any]) -> int | None:
    status = daemon_set.get("status") or {}
    generation = (daemon_set.get("metadata") or {}).get("generation", 0)
    if "observedGeneration" not in status or status["observedGeneration"] < generation:
        return None
    return int(status.get("desiredNumberScheduled") or 0)


def floater_pods(member: Member, daemon_set: dict[str, Any]) -> list[dict[str, Any]]:
    """The DaemonSet's pods that are not being deleted."""
    metadata = daemon_set["metadata"]
    listed = member.store.list(
        "Pod", namespace=metadata["namespace"], label_selector=_selector(daemon_set)
    )
    return [p for p in listed.items if not p["metadata"].get("deletionTimestamp")]


def daemon_set_state(deployed: Deployed, identity: ObjectId) -> DaemonSetState:
    member = deployed.member
    current = member.target.get(identity)
    if current is None:
        return DaemonSetState(identity, None, ())
    registered = {info.name for info in registrations(member.store, identity.namespace)}
    pods = tuple(
        PodState(
            pod["metadata"]["name"],
            str((pod.get("spec") or {}).get("nodeName") or ""),
            pod["metadata"]["name"] in registered,
            pod_problem(pod),
        )
        for pod in floater_pods(member, current)
    )
    return DaemonSetState(identity, _desired(current), pods)


def _states(deployments: Sequence[Deployed]) -> list[tuple[Deployed, DaemonSetState]]:
    states: list[tuple[Deployed, DaemonSetState]] = []
    for deployed in deployments:
        try:
            states += [(deployed, daemon_set_state(deployed, d)) for d in deployed.daemon_sets]
        except StoreError as exc:
            raise DeploymentError(deployed.member.where(exc)) from None
    return states


def wait_for_registrations(
    deployments: Sequence[Deployed], options: DeployOptions, progress: Progress = _quiet
) -> frozenset[str]:
    """The names of every floater the DaemonSets run, once each registered; a
    DeploymentError naming what is missing after ``options.wait`` seconds."""
    deadline = time.monotonic() + options.wait
    while True:
        states = _states(deployments)
        progress(sum(len(s.registered) for _, s in states), sum(s.expected for _, s in states) or 1)
        if all(state.complete for _, state in states):
            return frozenset(name for _, state in states for name in state.registered)
        if time.monotonic() >= deadline:
            raise DeploymentError(_not_ready(states, options.wait))
        time.sleep(options.poll)


def _not_ready(states: Sequence[tuple[Deployed, DaemonSetState]], wait: float) -> str:
    lines = [
        f"  - {deployed.member.where(problem)}"
        for deployed, state in states
        if not state.complete
        for problem in state.problems()
    ]
    return f"floaters not ready after {wait:g} s (-w/--pod-wait-time):\n" + "\n".join(lines)


# --- removing ---------------------------------------------------------------------------


def remove(deployed: Deployed, options: DeployOptions, say: Say = _silent) -> None:
    """Delete what this run created: its DaemonSets first, then, once their pods are gone
    (bounded), registrations those pods left and the RBAC and namespace they used."""
    member = deployed.member
    order = {kind: index for index, kind in enumerate(KIND_ORDER)}
    created = sorted(deployed.created, key=lambda i: order.get(i.kind, 0), reverse=True)
    try:
        selectors = _delete_daemon_sets(
            deployed, [i for i in created if i.kind == "DaemonSet"], say
        )
        _wait_until_gone(deployed, selectors, options, say)
        for identity in created:
            if identity.kind != "DaemonSet" and member.target.delete(identity):
                say(f"{member.spec.role}: {identity} deleted")
    except StoreError as exc:
        left = ", ".join(str(i) for i in created)
        say(
            member.where(
                f"cleanup failed ({exc}); left behind: {left}; remove them with kubectl "
                f"delete -n {member.spec.settings.namespace} -l {Owner.doctor().selector} "
                "daemonsets,rolebindings,roles,serviceaccounts,namespaces"
            )
        )


def _delete_daemon_sets(deployed: Deployed, daemon_sets: Sequence[ObjectId], say: Say) -> list[str]:
    """Delete them; the label selectors of the pods they ran."""
    member = deployed.member
    selectors: list[str] = []
    for identity in daemon_sets:
        current = member.target.get(identity)
        selector = _selector(current) if current is not None else ""
        if selector:  # none would select every pod of the namespace
            selectors.append(selector)
        if member.target.delete(identity):
            say(f"{member.spec.role}: {identity} deleted")
    return selectors


def _pod_names(member: Member, selectors: Sequence[str]) -> set[str]:
    namespace = member.spec.settings.namespace
    return {
        pod["metadata"]["name"]
        for selector in selectors
        for pod in member.store.list("Pod", namespace=namespace, label_selector=selector).items
    }


def _wait_until_gone(
    deployed: Deployed, selectors: Sequence[str], options: DeployOptions, say: Say
) -> None:
    """Until no pod of the deleted DaemonSets is left (each floater deletes its registration
    as it stops), then the registrations of those that did not.

    Pods are looked up after the deletion, not remembered from before it: the DaemonSet
    controller may still have been creating pods when the DaemonSet went.
    """
    member = deployed.member
    deadline = time.monotonic() + options.removal_wait
    seen: set[str] = set()
    remaining = _pod_names(member, selectors)
    while remaining:
        seen |= remaining
        if time.monotonic() >= deadline:
            say(member.where(f"floater pods still stopping: {', '.join(sorted(remaining))}"))
            break
        time.sleep(options.poll)
        remaining = _pod_names(member, selectors)
    for pod in sorted(seen):
        with contextlib.suppress(NotFoundError):
            member.store.delete("ConfigMap", registration_name(pod), member.spec.settings.namespace)


# --- all together -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Running:
    """Deployed and registered floaters: the store URLs the doctor reads, the floaters'
    names."""

    store_urls: tuple[str, ...]
    floaters: frozenset[str]


@contextlib.contextmanager
def floaters_running(
    specs: Sequence[MemberSpec],
    options: DeployOptions,
    *,
    say: Say = _silent,
    progress: Progress = _quiet,
) -> Iterator[Running]:
    """Floaters deployed in every member and registered. On exit what this run created is
    removed: always after a failure, after a finished check unless ``options.keep``."""
    unique = [spec for i, spec in enumerate(specs) if spec.url not in {s.url for s in specs[:i]}]
    with contextlib.ExitStack() as stack:
        members = [stack.enter_context(opened(spec)) for spec in unique]
        deployments: list[Deployed] = []
        try:
            for member in members:
                deployments.append(deploy(member, options, say))
            names = wait_for_registrations(deployments, options, progress)
            yield Running(tuple(spec.url for spec in unique), names)
        except BaseException:
            _remove_all(deployments, options, say)  # a failed check keeps nothing, even --keep
            raise
        if not options.keep:
            _remove_all(deployments, options, say)
        else:
            say(
                f"floaters kept (--keep); remove them with kubectl delete -n "
                f"{unique[0].settings.namespace} -l {Owner.doctor().selector} "
                "daemonsets,rolebindings,roles,serviceaccounts,namespaces"
            )


def _remove_all(deployments: Sequence[Deployed], options: DeployOptions, say: Say) -> None:
    for deployed in reversed(deployments):
        remove(deployed, options, say)
