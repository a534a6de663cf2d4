"""``clusterlink elector``: the replica holding the member's Lease makes its node the gateway.

Run two per member cluster on different nodes. The Lease lives in the member store
(``--member-store``), the gateway role goes to ClusterNodes in the control store
(``--store``). A replica that loses the lease exits (code 3) and restarts as a follower.
"""

from __future__ import annotations

from typing import Any

import click

from clusterlink.cli.process import (
    ProcessOptions,
    common_options,
    component_store,
    lease_options,
    run_component,
)
from clusterlink.controllers.elector import LEASE_NAME, GatewayRoleKeeper
from clusterlink.controllers.leader import LeaderElector, LeaseTiming


@click.command("elector")
@common_options
@lease_options(LEASE_NAME)
@click.option(
    "--cluster", required=True, envvar="CLUSTER_NAME", help="Name of this member's Cluster."
)
@click.option("--node", required=True, envvar="NODE_NAME", help="The node this replica runs on.")
@click.option(
    "--member-store",
    "member_store_url",
    required=True,
    envvar="CLUSTERLINK_MEMBER_STORE",
    help="Store URL of the member cluster (holds the Lease).",
)
@click.option(
    "--resync-period",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between checks of the roles when nothing changes.",
)
def elector(
    *,
    store_url: str,
    member_store_url: str,
    cluster: str,
    node: str,
    resync_period: float,
    process: ProcessOptions,
    **lease: Any,
) -> None:
    """Keep the gateway role on this node's ClusterNode while this replica holds the Lease."""
    if not lease["leader_elect"]:
        raise click.UsageError(
            "the elector is a leader election: with --no-leader-elect every replica "
            "would claim the gateway role"
        )
    try:
        timing = LeaseTiming(
            lease["lease_duration"], lease["renew_deadline"], lease["retry_period"]
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with component_store(store_url) as control, component_store(member_store_url) as member:
        keeper = GatewayRoleKeeper(control, cluster, node, resync_period=resync_period)
        candidate = LeaderElector(
            member, lease["lease_name"], lease["lease_namespace"], lease["identity"], timing
        )
        run_component("elector", keeper, process, candidate)
