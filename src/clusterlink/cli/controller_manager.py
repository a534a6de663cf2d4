"""``clusterlink controller-manager``: one member cluster's Nodes and CIDRs -> control plane.

Reads the member store (``--member-store``) and writes ClusterNodes and the Cluster's
status to the control store (``--store``); its optional lease lives in the member store.
"""

from __future__ import annotations

from typing import Any

import click

from clusterlink.cli.process import (
    ProcessOptions,
    common_options,
    component_store,
    leader_elector,
    lease_options,
    run_component,
)
from clusterlink.controllers.controller_manager import ControllerManager


@click.command("controller-manager")
@common_options
@lease_options("controller-manager")
@click.option(
    "--cluster", required=True, envvar="CLUSTER_NAME", help="Name of this member's Cluster."
)
@click.option(
    "--member-store",
    "member_store_url",
    required=True,
    envvar="CLUSTERLINK_MEMBER_STORE",
    help="Store URL of the member cluster (Nodes, Pods, IPPools, ConfigMaps).",
)
@click.option("--workers", type=int, default=2, show_default=True, help="Reconciling threads.")
def controller_manager(
    *,
    store_url: str,
    member_store_url: str,
    cluster: str,
    process: ProcessOptions,
    workers: int,
    **lease: Any,
) -> None:
    """Publish this member's Nodes as ClusterNodes and its pod/service CIDRs on its Cluster."""
    with component_store(store_url) as control, component_store(member_store_url) as member:
        manager = ControllerManager(control, member, cluster, workers=workers)
        run_component("controller-manager", manager, process, leader_elector(member, lease))
