"""``clusterlink network-manager``: Cluster + ClusterNode -> NodeConfig, leader-elected."""

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
from clusterlink.controllers.network_manager import NetworkManager


@click.command("network-manager")
@common_options
@lease_options("network-manager")
@click.option(
    "--workers", type=int, default=2, show_default=True, help="Threads writing NodeConfigs."
)
def network_manager(
    store_url: str, probe_port: int, log_format: str, verbose: bool, workers: int, **lease: Any
) -> None:
    """Compute every node's NodeConfig from Clusters and ClusterNodes, and keep it written."""
    store = open_component_store(store_url)
    manager = NetworkManager(store, workers=workers)
    component = Component(
        manager.start, manager.stop, lambda: manager.ready, manager.metrics.registry
    )
    try:
        run_component(
            "network-manager",
            component,
            probe_port=probe_port,
            log_format=log_format,  # type: ignore[arg-type]
            verbose=verbose,
            elector=leader_elector(store, lease),
        )
    finally:
        store.close()
