"""``clusterlink``: one subcommand per component, the command a Kubernetes pod runs.

Each component registers its own click group here; the lab runs exactly these commands.
"""

from __future__ import annotations

import click

from clusterlink import __version__
from clusterlink.cli.agent import agent
from clusterlink.cli.agent_run import agent_run
from clusterlink.cli.controller_manager import controller_manager
from clusterlink.cli.elector import elector
from clusterlink.cli.floater import floater
from clusterlink.cli.network_manager import network_manager


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clusterlink")
def main() -> None:
    """ClusterLink components (agent, network-manager, controller-manager, elector, floater)."""


agent.add_command(agent_run)
main.add_command(agent)
main.add_command(controller_manager)
main.add_command(elector)
main.add_command(floater)
main.add_command(network_manager)


if __name__ == "__main__":
    main()
