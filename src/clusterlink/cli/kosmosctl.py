"""``kosmosctl`` (also the kubectl plugin ``kubectl-kosmos``): the user's command line."""

from __future__ import annotations

import click

from clusterlink import __version__
from clusterlink.cli.plan import plan_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kosmosctl")
def main() -> None:
    """Link the pod and host networks of Kubernetes clusters (Kosmos ClusterLink)."""


main.add_command(plan_command)
