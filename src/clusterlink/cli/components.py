"""``clusterlink``: one subcommand per component, the command a Kubernetes pod runs.

Each component is a click group of its own module, imported only when it runs
(:mod:`clusterlink.cli.lazy_group`): a pod or lab process runs one component and loads only
that one. The lab runs exactly these commands.
"""

from __future__ import annotations

import click

from clusterlink import __version__
from clusterlink.cli.lazy_group import LazyGroup

COMPONENTS = {
    "agent": "clusterlink.cli.agent:agent",
    "controller-manager": "clusterlink.cli.controller_manager:controller_manager",
    "elector": "clusterlink.cli.elector:elector",
    "floater": "clusterlink.cli.floater:floater",
    "network-manager": "clusterlink.cli.network_manager:network_manager",
}


@click.group(
    cls=LazyGroup, lazy=COMPONENTS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="clusterlink")
def main() -> None:
    """ClusterLink components (agent, network-manager, controller-manager, elector, floater)."""


if __name__ == "__main__":
    main()
