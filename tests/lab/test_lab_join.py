"""The lab joins its clusters through ``kosmosctl join``'s code, for every lab shape.

``lab up`` fails when a join is refused, so every shape a user can ask for (modes, IP
families, overlapping pod ranges) must pass the join's preflight; and the Cluster the join
writes must say what the lab's own Cluster document says. Plain sqlite stores, no root.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterlink.deploy.ownership import Owner
from clusterlink.lab.addressing import LabSpec, plan_lab
from clusterlink.lab.lab import join_clusters
from clusterlink.lab.objects import cluster_document, write_member_objects
from clusterlink.store import open_store

SHAPES = [
    LabSpec(name="unjshape", clusters=3, mode=mode, ip_family=family, overlap=overlap)
    for mode in ("p2p", "gateway", "mixed")
    for family in ("ipv4", "ipv6", "all")
    for overlap in (False, True)
]


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}?poll_interval=0.01"


@pytest.mark.parametrize("spec", SHAPES, ids=lambda s: f"{s.mode}-{s.ip_family}-{s.overlap}")
def test_every_lab_shape_is_joined_with_the_clusters_the_lab_describes(
    spec: LabSpec, tmp_path: Path
) -> None:
    plan = plan_lab(spec)
    control = sqlite_url(tmp_path / "control.db")
    members = {c.name: sqlite_url(tmp_path / f"{c.name}.db") for c in plan.clusters}
    for cluster in plan.clusters:
        store = open_store(members[cluster.name])
        write_member_objects(store, cluster, spec.name)
        store.close()

    join_clusters(plan, control, members)

    store = open_store(control)
    try:
        for cluster in plan.clusters:
            joined = store.get("Cluster", cluster.name)
            described = cluster_document(cluster, spec.ip_family, spec.name)
            assert joined["spec"]["clusterLinkOptions"] == described["spec"]["clusterLinkOptions"]
            assert Owner.join(cluster.name).owns(joined)
    finally:
        store.close()
