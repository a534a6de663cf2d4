"""Which disabled Calico IPPools a member wants, and the writes that get it there."""

from __future__ import annotations

import re
from typing import Any

from clusterlink.controllers.calico_pools import (
    MAX_NAME_LENGTH,
    PoolChanges,
    PoolRef,
    SkippedCIDR,
    WantedPools,
    cni_of,
    is_ours,
    pool_changes,
    pool_document,
    pool_name,
    remote_cidrs,
    wanted_pools,
)
from clusterlink.planner import Planner, stable_mac
from clusterlink.planner.plan import node_config_document
from tests.unit.federations import cluster, cluster_node

OURS = {"app.kubernetes.io/managed-by": "clusterlink"}
DISABLED = {
    "natOutgoing": False,
    "disabled": True,
    "disableBGPExport": True,
    "vxlanMode": "Never",
    "ipipMode": "Never",
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def ippool(
    name: str,
    cidr: str,
    *,
    labels: dict[str, str] | None = None,
    version: str = "1",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": name, "labels": labels or {}, "resourceVersion": version},
        "spec": {"cidr": cidr, **spec},
    }


def our_pool(cidr: str, version: str = "1", **spec: Any) -> dict[str, Any]:
    return ippool(pool_name(cidr), cidr, labels=OURS, version=version, **{**DISABLED, **spec})


DEFAULT_POOL = ippool("default-ipv4-ippool", "10.1.0.0/16", natOutgoing=True)


def federation_node_configs() -> list[dict[str, Any]]:
    """NodeConfigs of a federation of three: ``a`` (ours), ``b`` in gateway mode and ``c``
    in P2P mode, whose pod CIDR collides with ``a``'s and is mapped to 172.31.0.0/16."""
    clusters = [
        cluster("a", "gateway", ["10.1.0.0/16"], ["10.96.0.0/16"]),
        cluster("b", "gateway", ["10.2.0.0/16"], ["10.97.0.0/16"]),
        cluster(
            "c",
            "p2p",
            ["10.1.0.0/16"],
            ["10.98.0.0/16"],
            global_map={"10.1.0.0/16": "172.31.0.0/16"},
        ),
    ]
    nodes = [
        cluster_node("a-n1", "a", "192.168.1.1", gateway=True, pod_cidrs=["10.1.0.0/24"]),
        cluster_node("a-n2", "a", "192.168.1.2", pod_cidrs=["10.1.1.0/24"]),
        cluster_node("b-n1", "b", "192.168.2.1", gateway=True, pod_cidrs=["10.2.0.0/24"]),
        cluster_node("c-n1", "c", "192.168.3.1", gateway=True, pod_cidrs=["10.1.0.0/24"]),
        cluster_node("c-n2", "c", "192.168.3.2", pod_cidrs=["10.1.1.0/24"]),
    ]
    plan = Planner(stable_mac).load(clusters, nodes)
    return [node_config_document(node) for node in plan.nodes.values()]


# --- the golden example --------------------------------------------------------------------


def test_golden_two_remote_clusters_a_global_map_an_overlap_a_stale_and_a_foreign_pool() -> None:
    remote = remote_cidrs(federation_node_configs(), {"a-n1", "a-n2"})
    # b's CIDRs as they are; c's P2P node pod CIDRs through c's globalCIDRsMap
    assert remote == [
        "10.2.0.0/16",
        "10.97.0.0/16",
        "10.98.0.0/16",
        "172.31.0.0/24",
        "172.31.1.0/24",
    ]
    existing = [
        DEFAULT_POOL,
        ippool("legacy", "10.97.0.0/16", disabled=True),  # a pool of a's own, retired
        ippool("clusterlink-handmade", "192.168.100.0/24", disabled=True),  # not labelled
        ippool("other-tool", "10.250.0.0/16", labels=OURS),  # labelled, not named ours
        our_pool("10.2.0.0/16", version="7", natOutgoing=True, blockSize=26),  # drifted
        our_pool("10.3.0.0/16", version="9"),  # a remote cluster that left
    ]

    wanted = wanted_pools("calico", remote, existing)

    assert wanted == WantedPools(
        cidrs=("10.2.0.0/16", "10.98.0.0/16", "172.31.0.0/23"),
        skipped=(
            SkippedCIDR(
                "10.97.0.0/16",
                "legacy",
                "it overlaps IPPool legacy (10.97.0.0/16), which is not ours",
            ),
        ),
    )
    changes = pool_changes(wanted.cidrs, existing)
    assert changes.create == (
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "IPPool",
            "metadata": {"name": "clusterlink-10-98-0-0-16", "labels": OURS},
            "spec": {"cidr": "10.98.0.0/16", **DISABLED},
        },
        pool_document("172.31.0.0/23"),
    )
    (restored,) = changes.update
    assert restored["metadata"] == existing[4]["metadata"]  # resourceVersion "7" kept
    assert restored["spec"] == {"cidr": "10.2.0.0/16", **DISABLED, "blockSize": 26}
    assert changes.delete == (PoolRef("clusterlink-10-3-0-0-16", "9"),)


def test_applying_the_changes_converges_and_then_nothing_is_written() -> None:
    existing = [DEFAULT_POOL, our_pool("10.3.0.0/16")]
    wanted = wanted_pools("calico", ["10.2.0.0/16", "fd00:2::/56"], existing)
    changes = pool_changes(wanted.cidrs, existing)
    gone = {ref.name for ref in changes.delete}
    after = [p for p in existing if p["metadata"]["name"] not in gone] + list(changes.create)

    assert wanted_pools("calico", ["10.2.0.0/16", "fd00:2::/56"], after) == wanted
    assert not pool_changes(wanted.cidrs, after)


def test_fields_calico_adds_are_no_drift() -> None:
    defaulted = our_pool("10.2.0.0/16", blockSize=26, nodeSelector="all()", allowedUses=["Tunnel"])
    assert pool_changes(["10.2.0.0/16"], [DEFAULT_POOL, defaulted]) == PoolChanges()


# --- when nothing is wanted ----------------------------------------------------------------


def test_with_another_cni_nothing_is_wanted_and_only_our_pools_are_removed() -> None:
    existing = [
        DEFAULT_POOL,
        ippool("clusterlink-handmade", "192.168.100.0/24"),
        our_pool("10.2.0.0/16", version="3"),
    ]
    wanted = wanted_pools("flannel", ["10.2.0.0/16"], existing)

    assert wanted.cidrs == ()
    assert "flannel" in wanted.idle
    assert pool_changes(wanted.cidrs, existing) == PoolChanges(
        delete=(PoolRef("clusterlink-10-2-0-0-16", "3"),)
    )


def test_without_a_pool_of_the_clusters_own_calico_is_not_in_use() -> None:
    existing = [ippool("clusterlink-handmade", "192.168.100.0/24"), our_pool("10.2.0.0/16")]
    wanted = wanted_pools("calico", ["10.2.0.0/16"], existing)
    assert wanted.cidrs == ()
    assert wanted.idle == "Calico has no IPPool of the cluster's own"


def test_the_cni_defaults_to_calico_as_in_the_model() -> None:
    assert cni_of({"spec": {"clusterLinkOptions": {"networkType": "p2p"}}}) == "calico"
    assert cni_of({"spec": {}}) == "calico"
    assert cni_of({"spec": {"clusterLinkOptions": {"cni": "cilium"}}}) == "cilium"


# --- what counts and what is skipped -------------------------------------------------------


def test_only_readable_routes_of_the_named_nodes_count() -> None:
    configs = [
        {"metadata": {"name": "a-n1"}, "spec": {"routes": [{"cidr": "10.2.0.5/16"}]}},
        {"metadata": {"name": "a-n2"}, "spec": {"routes": [{"cidr": "not-a-cidr"}, {}]}},
        {"metadata": {"name": "a-n3"}, "spec": {"routes": [{"cidr": "fd00:2::/56"}]}},
        {"metadata": {"name": "b-n1"}, "spec": {"routes": [{"cidr": "10.1.0.0/16"}]}},
        {"metadata": {"name": "a-n4"}, "spec": None},
    ]
    nodes = {"a-n1", "a-n2", "a-n3", "a-n4"}
    assert remote_cidrs(configs, nodes) == ["10.2.0.0/16", "fd00:2::/56"]


def test_each_family_is_checked_against_the_pools_of_that_family() -> None:
    existing = [DEFAULT_POOL, ippool("default-ipv6-ippool", "fd00:1::/48")]
    remote = ["fd00:1:0:5::/64", "fd00:2::/56", "10.2.0.0/16"]
    wanted = wanted_pools("calico", remote, existing)
    assert wanted.cidrs == ("10.2.0.0/16", "fd00:2::/56")
    assert [(s.cidr, s.pool) for s in wanted.skipped] == [
        ("fd00:1:0:5::/64", "default-ipv6-ippool")
    ]


def test_a_pool_name_held_by_a_pool_not_ours_is_left_to_it() -> None:
    squatter = ippool(pool_name("10.2.0.0/16"), "10.200.0.0/16")
    wanted = wanted_pools("calico", ["10.2.0.0/16"], [DEFAULT_POOL, squatter])
    assert wanted.cidrs == ()
    (skipped,) = wanted.skipped
    assert skipped.pool == "clusterlink-10-2-0-0-16"
    assert "not labelled app.kubernetes.io/managed-by=clusterlink" in str(skipped)
    assert pool_changes(wanted.cidrs, [DEFAULT_POOL, squatter]) == PoolChanges()


def test_our_pools_need_both_the_name_and_the_label() -> None:
    assert is_ours(our_pool("10.2.0.0/16"))
    assert not is_ours(ippool("clusterlink-10-2-0-0-16", "10.2.0.0/16"))
    assert not is_ours(ippool("mine", "10.2.0.0/16", labels=OURS))


def test_pool_names_are_valid_object_names_for_both_families() -> None:
    assert pool_name("10.234.0.0/16") == "clusterlink-10-234-0-0-16"
    assert pool_name("fd00:2::/56") == "clusterlink-fd00-2---56"
    longest = pool_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128")
    assert len(longest) <= MAX_NAME_LENGTH
    for name in (longest, pool_name("fd00:2::/56"), pool_name("10.234.0.0/16")):
        assert DNS_SUBDOMAIN.match(name), name
