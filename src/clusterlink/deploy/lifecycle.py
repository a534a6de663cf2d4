"""``install``, ``join``, ``unjoin`` and ``uninstall`` as steps over two clusters.

The CLI and the tests share this code; a cluster is an :class:`Endpoint` (a real API
server or an embedded store), progress goes to a :class:`Reporter`. A join first reads
both clusters and refuses (:class:`RefusedError`) when the preflight finds an error; if a write
fails afterwards, what the join had created is removed again before the error is raised,
so a cluster is never left half-joined. Removal finds objects by their owner labels
(:mod:`.ownership`), so it needs no record of the join and removes nothing else, except
the cluster's ClusterNodes (labelled ``kosmos.io/cluster`` by its controller-manager).

An unjoin must leave the member's nodes clean, and only a running agent that sees its
NodeConfig deleted removes a node's tunnels, routes and chains. So the order matters:
stop what re-creates objects, remove the Cluster and its ClusterNodes, wait until the
network-manager has deleted their NodeConfigs, and only then remove the agents.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from clusterlink.api.constants import CONTROL_CLUSTER_NAME, LABEL_CLUSTER
from clusterlink.controllers.calico_pools import is_ours
from clusterlink.controllers.cidr_discovery import FLANNEL_CONFIGMAP
from clusterlink.deploy.access_review import review, rights_for
from clusterlink.deploy.applier import Applied, apply_all, owned_objects, remove_owned
from clusterlink.deploy.joining import (
    JoinOptions,
    cluster_document,
    issued_kubeconfigs,
    placeholder_credentials,
    store_url_credentials,
)
from clusterlink.deploy.manifests import (
    control_plane_manifests,
    member_identity_manifests,
    member_manifests,
)
from clusterlink.deploy.ownership import Owner
from clusterlink.deploy.preflight import (
    MemberView,
    PreflightFinding,
    PreflightReport,
    check_join,
)
from clusterlink.deploy.targets import ObjectId, ObjectTarget
from clusterlink.store import NotFoundError, ObjectStore, StoreError
from clusterlink.store.kube.errors import ForbiddenError

Manifest = dict[str, Any]
MEMBER_ANNOTATION = "kosmos.io/joined-member"


class Reporter(Protocol):
    def step(self, text: str) -> AbstractContextManager[None]:
        """A long step: shown while it runs."""
        ...

    def applied(self, where: str, applied: Applied) -> None: ...

    def say(self, text: str) -> None: ...


class LifecycleError(RuntimeError):
    """A command could not do its job; the message says what state the clusters are in."""


class RefusedError(LifecycleError):
    """The preflight found errors; nothing was written."""

    def __init__(self, report: PreflightReport) -> None:
        lines = [f"  - [{f.check}] {f.message}" for f in report.errors]
        super().__init__("the join was refused, nothing was written:\n" + "\n".join(lines))
        self.report = report


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One cluster. ``store`` reads the objects the components use (for the preflight);
    ``target`` writes every kind it holds; ``store_url`` is how processes reach the store;
    ``server`` is the API server URL member pods use (None on an embedded store)."""

    label: str
    store: ObjectStore
    target: ObjectTarget
    store_url: str
    server: str | None = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: ``tokens`` for the control plane to issue the member's tokens, ``ready``
    for components to become ready (``poll`` between looks), ``teardown`` for the
    network-manager to delete an unjoined cluster's NodeConfigs and ``grace`` after that
    for its agents to remove their nodes' state."""

    tokens: float = 60.0
    ready: float = 300.0
    poll: float = 2.0
    teardown: float = 60.0
    grace: float = 3.0


# --- manifests --------------------------------------------------------------------------


def join_manifests(
    options: JoinOptions, credentials: Mapping[str, str]
) -> tuple[list[Manifest], list[Manifest]]:
    """(control-plane manifests, member manifests) of a join, owner-stamped."""
    owner = Owner.join(options.name)
    control = [
        *member_identity_manifests(options.name, options.settings),
        cluster_document(options),
    ]
    member = member_manifests(options.name, credentials, options.settings)
    return [owner.stamp(m) for m in control], [owner.stamp(m) for m in member]


def dry_run_manifests(options: JoinOptions, *, install: bool) -> list[Manifest]:
    """Every manifest ``install`` (with its join of the host) or ``join`` would write."""
    control, member = join_manifests(options, placeholder_credentials(options.name))
    if not install:
        return [*control, *member]
    installed = [Owner.install().stamp(m) for m in control_plane_manifests(options.settings)]
    return [*installed, *control, *member]


def control_cluster_options(options: JoinOptions) -> JoinOptions:
    return replace(options, name=CONTROL_CLUSTER_NAME, root=True)


def joined_cluster(options: JoinOptions, member: Endpoint) -> Manifest:
    """The Cluster a join writes, annotated with where the member is: a second join of the
    same name from the same member re-applies, from another member it is refused."""
    document = cluster_document(options)
    annotations = document["metadata"].setdefault("annotations", {})
    annotations[MEMBER_ANNOTATION] = member.target.description
    return document


def _annotation(obj: Mapping[str, Any], key: str) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    return None if value is None else str(value)


# --- reading ----------------------------------------------------------------------------


def read_member(store: ObjectStore, label: str) -> tuple[MemberView, list[PreflightFinding]]:
    """The CIDR sources of a member; a kind it does not serve (no Calico) reads as empty, one
    the user may not read is reported, since CIDR checks then miss its data."""
    findings: list[PreflightFinding] = []

    def listed(kind: str, namespace: str | None = None, names: str = "") -> tuple[Manifest, ...]:
        try:
            return store.list(kind, namespace=namespace, field_selector=names).items
        except NotFoundError:
            return ()
        except ForbiddenError as exc:
            findings.append(
                PreflightFinding("warning", "rbac", f"{label}: cannot list {kind}: {exc}")
            )
            return ()

    view = MemberView(
        nodes=listed("Node"),
        kube_system_pods=listed("Pod", "kube-system"),
        ippools=listed("IPPool"),
        configmaps=listed("ConfigMap", names=f"metadata.name={FLANNEL_CONFIGMAP}"),
    )
    return view, findings


def read_joined(control: Endpoint) -> tuple[Manifest, ...]:
    try:
        return control.store.list("Cluster").items
    except NotFoundError:
        raise LifecycleError(
            f"{control.label} ({control.target.description}) serves no Cluster objects: "
            "install the control plane first (kosmosctl install)"
        ) from None


def preflight(
    control: Endpoint, member: Endpoint, options: JoinOptions, reporter: Reporter
) -> PreflightReport:
    new = joined_cluster(options, member)
    with reporter.step(f"reading {control.label}"):
        joined = read_joined(control)
    with reporter.step(f"reading {member.label}"):
        view, unreadable = read_member(member.store, member.label)
    owner = Owner.join(options.name)
    rejoin = [
        c
        for c in joined
        if c["metadata"]["name"] == options.name
        and owner.owns(c)
        and _annotation(c, MEMBER_ANNOTATION) == member.target.description
    ]
    others = [c for c in joined if c not in rejoin]
    report = check_join(new, view, others).plus(unreadable)
    control_manifests, member_side = join_manifests(options, placeholder_credentials(options.name))
    with reporter.step("checking access rights"):
        report = report.plus(review(control.target, rights_for(control_manifests), control.label))
        return report.plus(review(member.target, rights_for(member_side), member.label))


# --- join -------------------------------------------------------------------------------


def _credentials(
    control: Endpoint, options: JoinOptions, timeouts: Timeouts, reporter: Reporter
) -> dict[str, str]:
    if control.server is None:
        return store_url_credentials(control.store_url)
    with reporter.step("waiting for the control plane to issue the member's tokens"):
        return issued_kubeconfigs(
            control.target,
            options.name,
            options.settings,
            control.server,
            timeout=timeouts.tokens,
        )


def _apply(endpoint: Endpoint, manifests: Sequence[Manifest], owner: Owner, r: Reporter) -> None:
    with r.step(f"writing {len(manifests)} objects to {endpoint.label}"):
        apply_all(endpoint.target, manifests, owner, lambda a: r.applied(endpoint.label, a))


def join(
    control: Endpoint,
    member: Endpoint,
    options: JoinOptions,
    reporter: Reporter,
    *,
    wait: bool = False,
    timeouts: Timeouts = Timeouts(),
) -> PreflightReport:
    """Join ``member`` as ``options.name``; returns the preflight report (warnings, notes)."""
    report = preflight(control, member, options, reporter)
    if not report.passed:
        raise RefusedError(report)
    owner = Owner.join(options.name)
    identities = member_identity_manifests(options.name, options.settings)
    try:
        _apply(control, identities, owner, reporter)
        credentials = _credentials(control, options, timeouts, reporter)
        _, member_side = join_manifests(options, credentials)
        _apply(member, member_side, owner, reporter)
        _apply(control, [joined_cluster(options, member)], owner, reporter)
    except (StoreError, LifecycleError, RuntimeError) as exc:
        with reporter.step("rolling back"):
            _remove(member, owner, reporter)
            _remove(control, owner, reporter)
        raise LifecycleError(
            f"joining {options.name} failed: {exc}; what the join had written was removed"
        ) from exc
    if wait:
        wait_ready(member, member_side, reporter, timeouts)
    return report


# --- install ----------------------------------------------------------------------------


def install(
    control: Endpoint,
    options: JoinOptions,
    reporter: Reporter,
    *,
    wait: bool = False,
    timeouts: Timeouts = Timeouts(),
) -> PreflightReport:
    """The control plane, then the host joined as ``kosmos-control-cluster`` (root)."""
    manifests = control_plane_manifests(options.settings)
    report = PreflightReport(tuple(review_install(control, manifests)))
    if not report.passed:
        raise RefusedError(report)
    _apply(control, manifests, Owner.install(), reporter)
    wait_established(control, manifests, reporter, timeouts)
    if wait:
        wait_ready(control, manifests, reporter, timeouts)
    joined = join(
        control, control, control_cluster_options(options), reporter, wait=wait, timeouts=timeouts
    )
    return report.plus(joined.findings)


def review_install(control: Endpoint, manifests: Sequence[Manifest]) -> list[PreflightFinding]:
    return review(control.target, rights_for(manifests), control.label)


# --- removal ----------------------------------------------------------------------------

WRITERS: tuple[str, ...] = ("Deployment",)
"""The kinds of a join whose pods write to the control plane on their own (the member's
controller-manager creates ClusterNodes, the elector patches them): stopped first, so
nothing re-creates what the unjoin removes. The agents (a DaemonSet) stay until their
nodes are clean."""

TEARDOWN_POLL = 0.5


def _remove(endpoint: Endpoint, owner: Owner, reporter: Reporter) -> list[Applied]:
    return remove_owned(endpoint.target, owner, lambda a: reporter.applied(endpoint.label, a))


def _remove_kinds(
    endpoint: Endpoint, owner: Owner, kinds: Sequence[str], reporter: Reporter
) -> list[Applied]:
    """What ``owner`` created of ``kinds`` only, leaving the rest for later."""
    others = [i for i in owned_objects(endpoint.target, owner) if i.kind not in kinds]
    return remove_owned(
        endpoint.target, owner, lambda a: reporter.applied(endpoint.label, a), keep=others
    )


def _skipped_kinds(endpoint: Endpoint, kinds: Sequence[str]) -> list[str]:
    return [kind for kind in kinds if not endpoint.target.holds(kind)]


def _cluster_selector(name: str) -> str:
    """ClusterNodes and NodeConfigs of a cluster carry this label (controller-manager and
    network-manager set it)."""
    return f"{LABEL_CLUSTER}={name}"


def _names_of(control: Endpoint, kind: str, cluster: str) -> list[str]:
    """The objects of ``kind`` labelled with ``cluster``, read through the control store
    (none when the control plane does not serve the kind, e.g. after an uninstall)."""
    try:
        listed = control.store.list(kind, label_selector=_cluster_selector(cluster)).items
    except NotFoundError:
        return []
    return sorted(str(o["metadata"]["name"]) for o in listed)


def remove_cluster_nodes(control: Endpoint, cluster: str, reporter: Reporter) -> list[Applied]:
    """Every ClusterNode of ``cluster``. The member's controller-manager created them, so
    they carry no owner label; they go with the Cluster because the network-manager
    deletes a node's NodeConfig, and so its agent's state, only when its ClusterNode goes."""
    return _delete_each(
        control, "ClusterNode", _names_of(control, "ClusterNode", cluster), reporter
    )


def remove_remote_cidr_pools(member: Endpoint, reporter: Reporter) -> list[Applied]:
    """The disabled Calico IPPools the member's controller-manager declared for the other
    clusters' CIDRs (:mod:`clusterlink.controllers.calico_pools`); it no longer runs to
    remove them, and only pools it wrote (name prefix and label) are deleted."""
    try:
        pools = member.store.list("IPPool").items
    except (NotFoundError, StoreError):  # Calico not installed, or not ours to read
        return []
    ours = [str(pool["metadata"]["name"]) for pool in pools if is_ours(pool)]
    return _delete_each(member, "IPPool", ours, reporter)


def _delete_each(
    endpoint: Endpoint, kind: str, names: Sequence[str], reporter: Reporter
) -> list[Applied]:
    """Delete the named cluster-scoped objects through the store, reporting each one gone
    (one already gone is not reported)."""
    removed: list[Applied] = []
    for name in names:
        try:
            endpoint.store.delete(kind, name)
        except NotFoundError:
            continue
        applied = Applied(ObjectId(kind, name), "deleted")
        reporter.applied(endpoint.label, applied)
        removed.append(applied)
    return removed


def leftover_advice(cluster: str, node_configs: Sequence[str], waited: float) -> str:
    """What to tell the user when NodeConfigs outlive the wait: which, why it matters, and
    how to clean the nodes by hand."""
    names = " ".join(node_configs)
    return (
        f"the network-manager did not remove the NodeConfig(s) {', '.join(node_configs)} "
        f"within {waited:.0f}s (is it running? see the clusterlink-network-manager "
        "Deployment); their nodes keep their ClusterLink state (vx-* devices, routes in "
        f"table 200, CLUSTERLINK-* iptables chains), and other clusters keep routes towards "
        f"{cluster} until the network-manager runs again. To clean such a node, run "
        "\"echo '{}' | clusterlink agent apply -f -\" on it (an empty NodeConfig: it removes what "
        f"the agent owns and nothing else), then: kubectl delete nodeconfigs.kosmos.io {names}"
    )


def node_configs_of(control: Endpoint, cluster: str) -> list[str]:
    """The NodeConfigs the network-manager wrote for ``cluster``'s nodes."""
    return _names_of(control, "NodeConfig", cluster)


def wait_node_configs_removed(
    control: Endpoint,
    cluster: str,
    planned: Sequence[str],
    reporter: Reporter,
    timeouts: Timeouts,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Until the network-manager has deleted every NodeConfig of ``cluster`` (its agents
    then tear their nodes down, seeing the deletion), bounded by ``timeouts.teardown``;
    then ``timeouts.grace`` for the agents to act. ``planned`` are the NodeConfigs there
    were before the ClusterNodes went: when there were none, no agent has anything to
    remove. Returns the NodeConfigs left."""
    if not planned:
        return []
    deadline = clock() + timeouts.teardown
    text = (
        f"waiting for the network-manager to remove {len(planned)} NodeConfig(s) of "
        f"{cluster} (at most {timeouts.teardown:.0f}s)"
    )
    with reporter.step(text):
        remaining = node_configs_of(control, cluster)
        while remaining and clock() < deadline:
            sleep(TEARDOWN_POLL)
            remaining = node_configs_of(control, cluster)
        if not remaining:
            sleep(timeouts.grace)
    if remaining:
        reporter.say(leftover_advice(cluster, remaining, timeouts.teardown))
    return remaining


def _unjoin(
    control: Endpoint, member: Endpoint, name: str, reporter: Reporter, timeouts: Timeouts
) -> int:
    owner = Owner.join(name)
    with reporter.step(f"stopping the controller-manager and elector of {name}"):
        removed = _remove_kinds(member, owner, WRITERS, reporter)
    planned = node_configs_of(control, name)
    with reporter.step(f"removing {name} and its ClusterNodes from {control.label}"):
        removed += _remove_kinds(control, owner, ("Cluster",), reporter)
        removed += remove_cluster_nodes(control, name, reporter)
    wait_node_configs_removed(control, name, planned, reporter, timeouts)
    with reporter.step(f"removing {name} from {member.label}"):
        removed += _remove(member, owner, reporter)
        removed += remove_remote_cidr_pools(member, reporter)
        # again: a controller-manager shutting down may have re-created one before it
        # saw its Cluster go
        removed += remove_cluster_nodes(control, name, reporter)
    with reporter.step(f"removing {name} from {control.label}"):
        removed += _remove(control, owner, reporter)
    return len(removed)


def unjoin(
    control: Endpoint,
    member: Endpoint,
    name: str,
    reporter: Reporter,
    *,
    timeouts: Timeouts = Timeouts(),
) -> int:
    """Remove what ``join`` created for ``name``, leaving its nodes clean, in this order:

    1. the member's Deployments (controller-manager, elector): nothing re-creates or
       patches ClusterNodes any more;
    2. the Cluster and every ClusterNode of ``name`` in the control plane;
    3. wait (bounded) until the network-manager has deleted the nodes' NodeConfigs: the
       agents, still running, see the deletion and remove their node's devices, routes
       and chains; what is left after the timeout is named, with how to clean it;
    4. the rest of the join: the agents' DaemonSet and the member's other objects (and
       the disabled Calico IPPools its controller-manager declared), then the identities
       in the control plane.

    Returns how many objects were removed (ClusterNodes included)."""
    removed = _unjoin(control, member, name, reporter, timeouts)
    if not removed:
        reporter.say(f"nothing was left of the join of {name}")
    return removed


def uninstall(control: Endpoint, reporter: Reporter, *, timeouts: Timeouts = Timeouts()) -> int:
    """Remove the host's join (as :func:`unjoin`, while the network-manager still runs to
    delete its NodeConfigs) and then the control plane; refused while other members remain."""
    with reporter.step(f"reading {control.label}"):
        try:
            clusters = control.store.list("Cluster").items
        except NotFoundError:
            clusters = ()
    members = sorted(
        c["metadata"]["name"] for c in clusters if c["metadata"]["name"] != CONTROL_CLUSTER_NAME
    )
    if members:
        raise LifecycleError(
            f"clusters {', '.join(members)} are still joined; unjoin them first "
            "(kosmosctl unjoin cluster --name NAME): removing the control plane would "
            "leave them without it"
        )
    removed = _unjoin(control, control, CONTROL_CLUSTER_NAME, reporter, timeouts)
    with reporter.step(f"removing the control plane from {control.label}"):
        removed += len(_remove(control, Owner.install(), reporter))
    if not removed:
        reporter.say("nothing was left of the installation")
    return removed


# --- waiting ----------------------------------------------------------------------------


def is_established(crd: Mapping[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def wait_established(
    endpoint: Endpoint,
    manifests: Sequence[Manifest],
    reporter: Reporter,
    timeouts: Timeouts,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until the API server serves the CRDs just written (the join writes a Cluster next)."""
    crds = [ObjectId.of(m) for m in manifests if m["kind"] == "CustomResourceDefinition"]
    if not crds or not endpoint.target.holds("CustomResourceDefinition"):
        return
    deadline = clock() + timeouts.tokens
    with reporter.step(f"waiting for {endpoint.label} to serve the kosmos.io CRDs"):
        for crd in crds:
            while not is_established(endpoint.target.get(crd) or {}):
                if clock() >= deadline:
                    raise LifecycleError(f"{crd} not established after {timeouts.tokens:.0f}s")
                sleep(0.5)


def is_ready(workload: Mapping[str, Any]) -> bool:
    """A Deployment or DaemonSet whose current generation has every replica ready."""
    status = workload.get("status") or {}
    metadata = workload.get("metadata") or {}
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return False
    if workload["kind"] == "Deployment":
        wanted = (workload.get("spec") or {}).get("replicas", 1)
        return int(status.get("readyReplicas") or 0) >= int(wanted)
    desired = int(status.get("desiredNumberScheduled") or 0)
    return int(status.get("numberReady") or 0) >= desired


def wait_ready(
    endpoint: Endpoint,
    manifests: Sequence[Manifest],
    reporter: Reporter,
    timeouts: Timeouts,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    workloads = [ObjectId.of(m) for m in manifests if m["kind"] in ("Deployment", "DaemonSet")]
    if not workloads:
        return
    skipped = _skipped_kinds(endpoint, ["Deployment", "DaemonSet"])
    if skipped:
        reporter.say(
            f"not waiting for components on {endpoint.label}: {endpoint.target.description} "
            "runs no workloads (the lab starts the processes itself)"
        )
        return
    deadline = clock() + timeouts.ready
    for workload in workloads:
        with reporter.step(f"waiting for {workload} on {endpoint.label} to be ready"):
            while not is_ready(endpoint.target.get(workload) or {"kind": workload.kind}):
                if clock() >= deadline:
                    raise LifecycleError(
                        f"{workload} on {endpoint.label} not ready after {timeouts.ready:.0f}s; "
                        f"see kubectl -n {workload.namespace} describe "
                        f"{workload.kind.lower()} {workload.name}"
                    )
                sleep(timeouts.poll)
