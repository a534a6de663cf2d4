"""``clusterlink network-manager``: Cluster + ClusterNode -> NodeConfig, leader-elected."""

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
from clusterlink.controllers.network_manager import NetworkManager


@click.command("network-manager")
@common_options
@lease_options("network-manager")
@click.option(
    "--workers", type=int, default=2, show_default=True, help="Threads writing NodeConfigs."
)
def network_manager(*, store_url: str, process: ProcessOptions, workers: int, **lease: Any) -> None:
    """Compute every node's NodeConfig from Clusters and ClusterNodes, and keep it written."""
    with component_store(store_url) as store:
        manager = NetworkManager(store, workers=workers)
        run_component("network-manager", manager, process, leader_elector(store, lease))
