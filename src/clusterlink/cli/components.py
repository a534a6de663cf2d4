"""``clusterlink``: one subcommand per component, the command a Kubernetes pod runs.

Each component registers its own click group here; the lab runs exactly these commands.
"""

from __future__ import annotations

import click

from clusterlink import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clusterlink")
def main() -> None:
    """ClusterLink components (agent, network-manager, controller-manager, elector, floater)."""
