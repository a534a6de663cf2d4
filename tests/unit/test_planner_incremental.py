"""The incremental planner gives exactly what a full computation gives, change after change,
and reports exactly the node plans whose entries changed."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from clusterlink.api.models import Cluster, ClusterNode
from clusterlink.planner import Planner, plan_federation, stable_mac
from tests.unit.federations import cluster, cluster_node

CLUSTER_NAMES = ["c0", "c1", "c2", "c3"]
NODE_NAMES = [f"n{i}" for i in range(8)]
# Small pools make overlaps between clusters and address collisions likely.
POD_POOL = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "fd01::/64", "fd02::/64", "bad"]
SERVICE_POOL = ["10.96.0.0/16", "10.97.0.0/16", "fd96::/112"]
NODE_POD_POOL = ["10.1.1.0/24", "10.2.1.0/24", "10.3.2.0/24", "10.9.0.0/24", "fd01::/80"]
TUNNEL_V4 = [
    {"ip": "220.0.0.0/8", "ip6": "9470::/16"},
    {"ip": "198.19.0.0/30", "ip6": "fd19::/126"},
]


@st.composite
def clusters(draw: st.DrawFn, name: str) -> Cluster:
    pods = draw(st.lists(st.sampled_from(POD_POOL), max_size=2))
    mapped = draw(st.sampled_from([None, {"10.1.0.0/16": "10.101.0.0/16"}]))
    built = cluster(
        name,
        draw(st.sampled_from(["p2p", "gateway"])),
        pods,
        draw(st.lists(st.sampled_from(SERVICE_POOL), max_size=2)),
        ip_family=draw(st.sampled_from(["ipv4", "ipv6", "all"])),
        global_map=mapped,
        bridge=draw(st.sampled_from(TUNNEL_V4)),
    )
    if draw(st.booleans()) and draw(st.booleans()):
        options = built.spec.cluster_link_options
        assert options is not None
        disabled = options.model_copy(update={"enable": False})
        built = built.model_copy(
            update={"spec": built.spec.model_copy(update={"cluster_link_options": disabled})}
        )
    return built


@st.composite
def nodes(draw: st.DrawFn, name: str) -> ClusterNode:
    low = draw(st.integers(1, 3))
    return cluster_node(
        name,
        draw(st.sampled_from([*CLUSTER_NAMES, ""])),
        draw(st.sampled_from(["", f"10.0.0.{low}", f"192.0.0.{low}", "not-an-ip"])),
        ip6=draw(st.sampled_from(["", f"fd00::{low}", f"fd00:1::{low}"])),
        gateway=draw(st.booleans()),
        pod_cidrs=draw(st.lists(st.sampled_from(NODE_POD_POOL), max_size=2)),
        interface=draw(st.sampled_from(["eth0", "eth0", ""])),
    )


@dataclass(frozen=True)
class Change:
    upsert_clusters: tuple[Cluster, ...] = ()
    delete_clusters: tuple[str, ...] = ()
    upsert_nodes: tuple[ClusterNode, ...] = ()
    delete_nodes: tuple[str, ...] = ()


@st.composite
def changes(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(["cluster", "delete-cluster", "node", "delete-node", "batch"]))
    if kind == "cluster":
        return Change(upsert_clusters=(draw(clusters(draw(st.sampled_from(CLUSTER_NAMES)))),))
    if kind == "delete-cluster":
        return Change(delete_clusters=(draw(st.sampled_from(CLUSTER_NAMES)),))
    if kind == "node":
        return Change(upsert_nodes=(draw(nodes(draw(st.sampled_from(NODE_NAMES)))),))
    if kind == "delete-node":
        return Change(delete_nodes=(draw(st.sampled_from(NODE_NAMES)),))
    return Change(
        upsert_clusters=tuple(
            draw(clusters(n)) for n in draw(st.sets(st.sampled_from(CLUSTER_NAMES), max_size=2))
        ),
        upsert_nodes=tuple(
            draw(nodes(n)) for n in draw(st.sets(st.sampled_from(NODE_NAMES), max_size=3))
        ),
    )


@st.composite
def federations(draw: st.DrawFn) -> tuple[list[Cluster], list[ClusterNode]]:
    names = draw(st.sets(st.sampled_from(CLUSTER_NAMES), min_size=1))
    node_names = draw(st.sets(st.sampled_from(NODE_NAMES)))
    return [draw(clusters(n)) for n in sorted(names)], [draw(nodes(n)) for n in sorted(node_names)]


@settings(max_examples=int(os.environ.get("PLANNER_EXAMPLES", "250")))
@given(start=federations(), steps=st.lists(changes(), min_size=1, max_size=6))
def test_every_change_equals_a_full_computation_and_reports_exactly_what_changed(
    start: tuple[list[Cluster], list[ClusterNode]], steps: list[Change]
) -> None:
    planner = Planner(stable_mac)
    planner.load(*start)
    clusters_now = {c.name: c for c in start[0]}
    nodes_now = {n.name: n for n in start[1]}
    for step in steps:
        before = planner.plan
        delta = planner.apply(
            upsert_clusters=step.upsert_clusters,
            delete_clusters=step.delete_clusters,
            upsert_nodes=step.upsert_nodes,
            delete_nodes=step.delete_nodes,
        )
        for c in step.upsert_clusters:
            clusters_now[c.name] = c
        for name in step.delete_clusters:
            clusters_now.pop(name, None)
        for n in step.upsert_nodes:
            nodes_now[n.name] = n
        for name in step.delete_nodes:
            nodes_now.pop(name, None)
        after = planner.plan
        previous = {name: plan.to_spec() for name, plan in before.nodes.items()}
        full = plan_federation(clusters_now.values(), nodes_now.values(), previous, stable_mac)

        assert set(after.nodes) == set(full.nodes)
        for name, plan in full.nodes.items():
            assert after.nodes[name].entry_sets() == plan.entry_sets(), name
            assert after.nodes[name].counts() == full.nodes[name].counts(), name
        assert after.held == full.held
        assert after.problems == full.problems

        really_changed = {
            name
            for name, plan in after.nodes.items()
            if name not in before.nodes or before.nodes[name].entry_sets() != plan.entry_sets()
        }
        assert set(delta.changed) == really_changed
        assert delta.removed == set(before.nodes) - set(after.nodes)
        changed_problems = {
            ref
            for ref in set(before.problems) | set(after.problems)
            if before.problems.get(ref, ()) != after.problems.get(ref, ())
        }
        assert set(delta.problems) == changed_problems
