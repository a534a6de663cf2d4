"""``clusterlink controller-manager``: one member cluster's Nodes and CIDRs -> control plane.

Reads the member store (``--member-store``) and writes ClusterNodes and the Cluster's
status to the control store (``--store``); its optional lease lives in the member store.
"""

from __future__ import annotations

from typing import Any

import click

from clusterlink.cli.process import (
    Component,
    common_options,
    leader_elector,
    lease_options,
    open_component_store,
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
    probe_port: int,
    log_format: str,
    verbose: bool,
    workers: int,
    **lease: Any,
) -> None:
    """Publish this member's Nodes as ClusterNodes and its pod/service CIDRs on its Cluster."""
    control = open_component_store(store_url)
    member = open_component_store(member_store_url)
    manager = ControllerManager(control, member, cluster, workers=workers)
    component = Component(
        manager.start, manager.stop, lambda: manager.ready, manager.metrics.registry
    )
    try:
        run_component(
            "controller-manager",
            component,
            probe_port=probe_port,
            log_format=log_format,  # type: ignore[arg-type]
            verbose=verbose,
            elector=leader_elector(member, lease),
        )
    finally:
        member.close()
        control.close()
