"""``clusterlink floater``: the probe daemon of every node, in host and in pod network.

Upstream's environment works unchanged (``PORT``, default 8889; ``ENABLE_ANALYSIS``);
the rest comes from flags or the usual downward-API variables. It registers in the member
cluster's store (``--store``) and answers the doctor's plans there.
"""

from __future__ import annotations

import socket
from typing import Any

import click

from clusterlink.cli.process import ProcessOptions, common_options, component_store, run_component
from clusterlink.floater.addresses import local_addresses
from clusterlink.floater.daemon import Floater
from clusterlink.floater.messages import DEFAULT_NAMESPACE, DEFAULT_PORT, NETWORKS, FloaterInfo
from clusterlink.floater.plan import MAX_CONCURRENCY, PlanError, unicast_address


def _addresses(_: click.Context, __: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    words = [word for item in value for word in item.replace(",", " ").split()]
    try:
        return tuple(unicast_address(word, "--address") for word in words)
    except PlanError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("floater")
@common_options
@click.option("--name", envvar="POD_NAME", default=socket.gethostname(), show_default="hostname")
@click.option("--cluster", required=True, envvar="CLUSTER_NAME", help="This member's Cluster.")
@click.option("--node", required=True, envvar="NODE_NAME", help="The node it runs on.")
@click.option(
    "--network",
    type=click.Choice(NETWORKS),
    envvar="FLOATER_NETWORK",
    default="pod",
    show_default=True,
    help="Whether it runs in the node's host network or in a pod's network.",
)
@click.option(
    "--address",
    "addresses",
    multiple=True,
    envvar="FLOATER_ADDRESSES",
    callback=_addresses,
    help="An address peers probe (repeat; default: this namespace's global addresses).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    envvar="PORT",
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP/HTTP port peers probe (upstream's PORT; 0: any free port).",
)
@click.option(
    "-n",
    "--namespace",
    envvar="POD_NAMESPACE",
    default=DEFAULT_NAMESPACE,
    show_default=True,
    help="Where registrations, plans and results live.",
)
@click.option(
    "--enable-analysis/--no-enable-analysis",
    envvar="ENABLE_ANALYSIS",
    default=False,
    help="Accepted for upstream compatibility: the kernel route lookups the doctor asks "
    "for (its analysis) are always served.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=64,
    show_default=True,
    help="At most this many probes at once, whatever a plan asks.",
)
def floater(
    *,
    store_url: str,
    process: ProcessOptions,
    name: str,
    cluster: str,
    node: str,
    network: Any,
    addresses: tuple[str, ...],
    port: int,
    namespace: str,
    enable_analysis: bool,
    concurrency: int,
) -> None:
    """Serve probes on PORT and run the probe plans the doctor writes for this floater."""
    del enable_analysis
    info = FloaterInfo(name, cluster, node, network, addresses or local_addresses(), port)
    with component_store(store_url) as store:
        component = Floater(store, info, namespace, max_concurrency=concurrency)
        run_component("floater", component, process)
