"""``clusterlink agent run``: the agent daemon of every node (a DaemonSet in Kubernetes)."""

from __future__ import annotations

import click

from clusterlink.cli.process import ProcessOptions, common_options, component_store, run_component
from clusterlink.controllers.agent import Agent


@click.command("run")
@common_options
@click.option("--cluster", required=True, envvar="CLUSTER_NAME", help="This node's cluster.")
@click.option("--node", required=True, envvar="NODE_NAME", help="This node's name.")
@click.option("--netns", default=None, help="Converge this network namespace, not the host.")
@click.option(
    "--resync-period",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between full reads of the host that repair drift.",
)
@click.option(
    "--detect/--no-detect",
    "detect_interface",
    default=True,
    show_default=True,
    help="Report the tunnel interface and its addresses into the ClusterNode.",
)
def agent_run(
    *,
    store_url: str,
    process: ProcessOptions,
    cluster: str,
    node: str,
    netns: str | None,
    resync_period: float,
    detect_interface: bool,
) -> None:
    """Keep this node equal to its NodeConfig <cluster>-<node>, and report its status."""
    with component_store(store_url) as store:
        agent = Agent(
            store,
            cluster,
            node,
            netns=netns,
            resync_period=resync_period,
            detect_interface=detect_interface,
        )
        run_component("agent", agent, process)
