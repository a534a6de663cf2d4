"""The lab's life cycle: ``up``, ``down``, ``exec``, ``kill-node``, ``start-node``.

Orchestration only: names and addresses come from :mod:`.addressing`, the network from
:mod:`.topology`, objects from :mod:`.objects`, processes from :mod:`.processes`, and
everything created is recorded through :mod:`.state` before or right after it exists, so
``down`` (also after a failed or interrupted ``up``) removes exactly that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from clusterlink.deploy.applier import Applied
from clusterlink.deploy.lifecycle import Endpoint, LifecycleError, join
from clusterlink.deploy.store_target import StoreTarget
from clusterlink.lab import naming, stand_ins, topology
from clusterlink.lab.addressing import LabPlan, LabSpec, NodePlan, plan_lab
from clusterlink.lab.objects import join_options, write_member_objects
from clusterlink.lab.processes import (
    ComponentsError,
    available_components,
    is_running,
    kill_pid,
    kill_processes,
    start_component,
    stop_processes,
)
from clusterlink.lab.readiness import describe_wait, pending_conditions
from clusterlink.lab.state import (
    LabState,
    LabStateError,
    ProcessRecord,
    lab_directory,
    lab_exists,
    load_state,
    new_state,
    remove_state,
    save_state,
)
from clusterlink.store import ObjectStore, StoreError, open_store

Progress = Callable[[str], None]
READY_TIMEOUT = 120.0
ELECTORS_PER_CLUSTER = 2
FLOATER_POLL_INTERVAL = 0.25  # floaters idle between doctor runs; watch them cheaply
_POLL = 0.25
_LOG_TAIL_LINES = 15


class LabError(RuntimeError):
    """Why a lab command could not do its job, phrased for the user."""


def _quiet(_: str) -> None:
    return None


# --- up ------------------------------------------------------------------------------


def check_can_create(spec: LabSpec, state_root: Path) -> None:
    """Fail before creating anything: not root, tools missing, or the name is taken."""
    if os.geteuid() != 0:
        raise LabError("kosmosctl lab needs root: it creates network namespaces (try sudo)")
    missing = topology.missing_tools()
    if missing:
        raise LabError(
            f"missing tools: {', '.join(missing)} (packages iproute2, iptables, util-linux, procps)"
        )
    if lab_exists(state_root, spec.name):
        raise LabError(
            f"a lab named {spec.name!r} exists already; remove it with "
            f"'kosmosctl lab down --name {spec.name}' or choose another --name"
        )
    taken = topology.existing_namespaces(naming.lab_prefix(spec.name))
    if taken:
        raise LabError(
            f"network namespaces of a lab named {spec.name!r} exist already ({', '.join(taken)}); "
            f"remove them with 'kosmosctl lab down --name {spec.name}'"
        )


def up(
    spec: LabSpec,
    state_root: Path,
    progress: Progress = _quiet,
    timeout: float = READY_TIMEOUT,
) -> LabState:
    """Build the lab, start ClusterLink on it and wait until every node applied its config.

    On any failure (or Ctrl-C) everything created so far is removed before raising.
    """
    check_can_create(spec, state_root)
    shutil.rmtree(failed_logs_directory(spec.name, state_root), ignore_errors=True)
    plan = plan_lab(spec)
    state = new_state(spec, state_root, tuple(cluster.name for cluster in plan.clusters))
    save_state(state)
    try:
        state = _build_network(state, plan, progress)
        state = _write_objects(state, plan, progress)
        state = _start_components(state, plan, progress)
        wait_ready(state, plan, progress, timeout)
    except BaseException as exc:
        progress("failed: removing what was created")
        kept = _keep_logs(spec.name, state_root)
        down(spec.name, state_root)
        if isinstance(
            exc, LabError | topology.TopologyError | ComponentsError | StoreError | OSError
        ):
            where = f" (component logs kept in {kept})" if kept else ""
            raise LabError(f"lab {spec.name} could not be created: {exc}{where}") from exc
        raise
    return state


def failed_logs_directory(name: str, state_root: Path) -> Path:
    """Where a failed ``up`` leaves its component logs, until the next ``up`` of the name."""
    return state_root.resolve() / f"{name}.failed-logs"


def _keep_logs(name: str, state_root: Path) -> Path | None:
    """Move the logs of a failed ``up`` out of the state directory that ``down`` removes."""
    logs = lab_directory(state_root.resolve(), name) / "logs"
    if not logs.is_dir():
        return None
    kept = failed_logs_directory(name, state_root)
    shutil.rmtree(kept, ignore_errors=True)
    shutil.move(logs, kept)
    return kept


def _build_network(state: LabState, plan: LabPlan, progress: Progress) -> LabState:
    progress(f"creating the router and {len(plan.clusters)} underlay networks")
    for name in (plan.router_namespace, plan.control_namespace):
        state = _create_namespace(state, name, forwarding=name == plan.router_namespace)
    topology.build_router_bridges(plan)
    for cluster in plan.clusters:
        progress(f"wiring {cluster.name}: {len(cluster.nodes)} node(s), {len(cluster.pods)} pod(s)")
        for node in cluster.nodes:
            state = _create_namespace(state, node.namespace, forwarding=True)
            topology.attach_node(plan, cluster, node)
            for pod in node.pods:
                state = _create_namespace(state, pod.namespace, forwarding=False)
                topology.attach_pod(node, pod)
        topology.add_host_gw_routes(cluster)
    return state


def _create_namespace(state: LabState, name: str, *, forwarding: bool) -> LabState:
    state = state.with_namespace(name)
    save_state(state)  # recorded first: a crash right after creation still cleans it up
    topology.create_namespace(name, forwarding=forwarding)
    return state


def _write_objects(state: LabState, plan: LabPlan, progress: Progress) -> LabState:
    progress("writing Nodes and Pods into each cluster's store, Clusters into the control store")
    Path(state.directory, "stores").mkdir(parents=True, exist_ok=True)
    components = available_components()
    fallbacks = tuple(
        name for name in (stand_ins.CONTROLLER_MANAGER, stand_ins.ELECTOR) if name not in components
    )
    state = state.with_fallbacks(fallbacks)
    save_state(state)
    for cluster in plan.clusters:
        with _opened(state.member_stores[cluster.name]) as member:
            write_member_objects(member, cluster, plan.spec.name)
    join_clusters(plan, state.control_store, state.member_stores)
    with _opened(state.control_store) as control:
        for cluster in plan.clusters:
            if stand_ins.CONTROLLER_MANAGER in fallbacks:
                stand_ins.write_cluster_nodes(control, cluster)
                stand_ins.write_cluster_status(control, cluster)
            if stand_ins.ELECTOR in fallbacks:
                stand_ins.assign_gateway(control, cluster, [n.name for n in cluster.nodes])
    if fallbacks:
        progress(f"stand-ins used for missing component(s): {', '.join(fallbacks)}")
    return state


class _Silent:
    """A join reporter for ``up``, which reports its own progress."""

    def step(self, text: str) -> AbstractContextManager[None]:
        return nullcontext()

    def applied(self, where: str, applied: Applied) -> None:
        return None

    def say(self, text: str) -> None:
        return None


def _store_endpoint(label: str, store: ObjectStore, url: str) -> Endpoint:
    return Endpoint(label, store, StoreTarget(store, f"store {url}"), url)


def join_clusters(plan: LabPlan, control_url: str, member_urls: Mapping[str, str]) -> None:
    """Each virtual cluster joined to the control store as ``kosmosctl join cluster --store
    CONTROL --member-store MEMBER`` joins it, so the lab can be unjoined like a real one."""
    with _opened(control_url) as control_store:
        control = _store_endpoint("control plane", control_store, control_url)
        for cluster in plan.clusters:
            url = member_urls[cluster.name]
            with _opened(url) as member_store:
                member = _store_endpoint(cluster.name, member_store, url)
                try:
                    join(control, member, join_options(cluster, plan.spec.ip_family), _Silent())
                except LifecycleError as exc:
                    raise LabError(f"joining {cluster.name} to the control store: {exc}") from exc


@contextmanager
def _opened(url: str) -> Iterator[ObjectStore]:
    """A store opened for one block and always closed."""
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def _start_components(state: LabState, plan: LabPlan, progress: Progress) -> LabState:
    progress("starting network-manager, controller-managers, electors and agents")
    state = _start(
        state,
        role="network-manager",
        cluster="",
        node="",
        namespace=plan.control_namespace,
        args=_network_manager_args(state),
    )
    for cluster in plan.clusters:
        if stand_ins.CONTROLLER_MANAGER not in state.fallbacks:
            args = (
                "controller-manager",
                "--cluster",
                cluster.name,
                "--member-store",
                state.member_stores[cluster.name],
                "--store",
                state.control_store,
            )
            state = _start(
                state,
                role="controller-manager",
                cluster=cluster.name,
                node="",
                namespace=plan.control_namespace,
                args=args,
            )
        for node in cluster.nodes:
            state = _start_node_components(state, plan, node)
    return state


def _network_manager_args(state: LabState) -> tuple[str, ...]:
    return ("network-manager", "--store", state.control_store, "--probe-port", "-1")


def _start_node_components(state: LabState, plan: LabPlan, node: NodePlan) -> LabState:
    """The node's agent, and its elector when it is one of the cluster's two candidates."""
    agent = _agent_args(state, node)
    state = _start(
        state,
        role="agent",
        cluster=node.cluster,
        node=node.name,
        namespace=node.namespace,
        args=agent,
    )
    if stand_ins.ELECTOR not in state.fallbacks and _is_elector_node(plan, node):
        elector = (
            "elector",
            "--cluster",
            node.cluster,
            "--node",
            node.name,
            "--member-store",
            state.member_stores[node.cluster],
            "--store",
            state.control_store,
        )
        state = _start(
            state,
            role="elector",
            cluster=node.cluster,
            node=node.name,
            namespace=node.namespace,
            args=elector,
        )
    if state.spec.floaters:
        for namespace, network, name, addresses in floater_places(node):
            state = _start(
                state,
                role=f"floater-{network}",
                cluster=node.cluster,
                node=node.name,
                namespace=namespace,
                args=_floater_args(state, node, network, name, addresses),
            )
    return state


def floater_places(node: NodePlan) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(namespace, network, floater name, addresses): the node's host network, its first pod."""
    places = [(node.namespace, "host", f"{node.cluster}-{node.name}-host", node.ips)]
    if node.pods:
        pod = node.pods[0]
        places.append((pod.namespace, "pod", f"{node.cluster}-{node.name}-{pod.name}", pod.ips))
    return places


def _floater_args(
    state: LabState, node: NodePlan, network: str, name: str, addresses: tuple[str, ...]
) -> tuple[str, ...]:
    store = f"{state.member_stores[node.cluster]}?poll_interval={FLOATER_POLL_INTERVAL}"
    args = ["floater", "--store", store, "--probe-port", "-1"]
    args += ["--cluster", node.cluster, "--node", node.name, "--network", network]
    args += ["--name", name, *(f"--address={address}" for address in addresses)]
    return tuple(args)


def _agent_args(state: LabState, node: NodePlan) -> tuple[str, ...]:
    return (
        "agent",
        "run",
        "--store",
        state.control_store,
        "--cluster",
        node.cluster,
        "--node",
        node.name,
        "--probe-port",
        "-1",
    )


def _is_elector_node(plan: LabPlan, node: NodePlan) -> bool:
    candidates = plan.cluster(node.cluster).nodes[:ELECTORS_PER_CLUSTER]
    return any(candidate.name == node.name for candidate in candidates)


def _start(
    state: LabState, *, role: str, cluster: str, node: str, namespace: str, args: Sequence[str]
) -> LabState:
    where = "-".join(p for p in (cluster, node) if p)
    log_name = f"{where}-{role}.log" if where else f"{role}.log"
    record = start_component(
        role=role,
        cluster=cluster,
        node=node,
        namespace=namespace,
        args=args,
        log_path=state.logs_dir / log_name,
    )
    state = state.with_process(record)
    save_state(state)
    return state


def live_nodes(state: LabState, plan: LabPlan) -> set[str]:
    return {node.path for node in plan.nodes if node.path not in state.killed_nodes}


def wait_ready(state: LabState, plan: LabPlan, progress: Progress, timeout: float) -> None:
    """Until every live node applied a complete NodeConfig; fails early if a process dies."""
    deadline = time.monotonic() + timeout
    last = ""
    with _opened(state.control_store) as control:
        while True:
            _check_processes(state)
            pending = pending_conditions(control, plan, live_nodes(state, plan))
            if not pending:
                return
            summary = describe_wait(pending)
            if summary != last:
                progress(f"waiting: {summary}")
                last = summary
            if time.monotonic() >= deadline:
                raise LabError(
                    f"not ready after {timeout:.0f} s; still waiting for: "
                    f"{describe_wait(pending, limit=10)}; logs are in {state.logs_dir}"
                )
            time.sleep(_POLL)


def _check_processes(state: LabState) -> None:
    for record in state.processes:
        if not is_running(record):
            raise LabError(
                f"{record.label} exited; last lines of {record.log}:\n{log_tail(record)}"
            )


def log_tail(record: ProcessRecord, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = Path(record.log).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --- down ----------------------------------------------------------------------------


def down(name: str, state_root: Path, progress: Progress = _quiet) -> list[str]:
    """Remove the lab: its processes by PID (those it recorded, then any still inside its
    namespaces, such as a ``lab exec``), its namespaces by name, its state directory.

    Returns the namespaces deleted. Works from a partial state (a crashed ``up``) and,
    with no state at all, from the lab's namespace prefix alone.
    """
    naming.check_lab_name(name)
    state: LabState | None
    try:
        state = load_state(state_root, name)
    except LabStateError:
        state = None
    prefix = naming.lab_prefix(name)
    recorded = state.namespaces if state is not None else ()
    namespaces = list(dict.fromkeys([*recorded, *topology.existing_namespaces(prefix)]))
    if state is None and not namespaces:
        raise LabError(
            f"no lab named {name!r} (nothing in {state_root / name}, no {prefix}* namespaces)"
        )
    if state is not None:
        progress(f"stopping {len(state.processes)} process(es)")
        stop_processes(state.processes)
    progress(f"deleting {len(namespaces)} namespace(s)")
    for namespace in namespaces:
        for pid in topology.pids_in_namespace(namespace):
            kill_pid(pid)
    for namespace in reversed(namespaces):
        topology.delete_namespace(namespace)
    if state is not None:
        remove_state(state)
    return namespaces


# --- operating a running lab -----------------------------------------------------------


def open_lab(name: str, state_root: Path) -> tuple[LabState, LabPlan]:
    try:
        state = load_state(state_root, naming.check_lab_name(name))
    except LabStateError as exc:
        raise LabError(str(exc)) from None
    return state, plan_lab(state.spec)


def exec_in(name: str, state_root: Path, target: naming.Target, command: Sequence[str]) -> int:
    """Run ``command`` in the node's or pod's namespace; returns its exit code."""
    _, plan = open_lab(name, state_root)
    namespace = plan.namespace_of(target)
    if not topology.namespace_exists(namespace):
        raise LabError(f"namespace {namespace} of {target} does not exist (lab half removed?)")
    if not command:
        raise LabError("no command given: kosmosctl lab exec CLUSTER/NODE[/POD] -- COMMAND...")
    try:
        return subprocess.run(["ip", "netns", "exec", namespace, *command], check=False).returncode
    except KeyboardInterrupt:
        return 130


def kill_node(name: str, state_root: Path, target: naming.Target) -> LabState:
    """A node failure: its link is cut at the router and its processes are killed (SIGKILL:
    a dead node releases no lease and reports nothing)."""
    state, plan = open_lab(name, state_root)
    node = plan.node(target.cluster, target.node)
    records = [p for p in state.processes if p.cluster == node.cluster and p.node == node.name]
    topology.set_node_link(plan, node, up=False)
    kill_processes(records)
    state = state.without_processes({record.pid for record in records})
    state = state.with_killed_node(node.path, True)
    save_state(state)
    _stand_in_for_elector(state, plan, node.cluster)
    return state


def start_node(name: str, state_root: Path, target: naming.Target) -> LabState:
    """Bring a killed node back: its link, then its agent and elector."""
    state, plan = open_lab(name, state_root)
    node = plan.node(target.cluster, target.node)
    if any(p.cluster == node.cluster and p.node == node.name for p in state.processes):
        raise LabError(f"node {node.path} is running; kill it first with kosmosctl lab kill-node")
    topology.set_node_link(plan, node, up=True)
    state = state.with_killed_node(node.path, False)
    save_state(state)
    state = _start_node_components(state, plan, node)
    _stand_in_for_elector(state, plan, node.cluster)
    return state


def restart_agent(name: str, state_root: Path, target: naming.Target) -> LabState:
    """Stop a node's agent (SIGTERM, as a rolling update does) and start a new one."""
    state, plan = open_lab(name, state_root)
    node = plan.node(target.cluster, target.node)
    agents = [
        p
        for p in state.processes
        if p.role == "agent" and p.cluster == node.cluster and p.node == node.name
    ]
    if not agents:
        raise LabError(f"node {node.path} has no agent running (killed? use start-node)")
    stop_processes(agents)
    state = state.without_processes({agent.pid for agent in agents})
    save_state(state)
    return _start(
        state,
        role="agent",
        cluster=node.cluster,
        node=node.name,
        namespace=node.namespace,
        args=_agent_args(state, node),
    )


def _stand_in_for_elector(state: LabState, plan: LabPlan, cluster: str) -> None:
    if stand_ins.ELECTOR not in state.fallbacks:
        return
    alive = [n.name for n in plan.cluster(cluster).nodes if n.path in live_nodes(state, plan)]
    with _opened(state.control_store) as control:
        stand_ins.assign_gateway(control, plan.cluster(cluster), alive)


def stop_control_plane(name: str, state_root: Path) -> LabState:
    """Stop the network-manager (the control plane), as an outage of the control cluster."""
    state, _ = open_lab(name, state_root)
    records = [p for p in state.processes if p.role == "network-manager"]
    stop_processes(records)
    state = state.without_processes({record.pid for record in records})
    save_state(state)
    return state


def start_control_plane(name: str, state_root: Path) -> LabState:
    state, plan = open_lab(name, state_root)
    if any(p.role == "network-manager" for p in state.processes):
        raise LabError("the network-manager is running already")
    return _start(
        state,
        role="network-manager",
        cluster="",
        node="",
        namespace=plan.control_namespace,
        args=_network_manager_args(state),
    )
