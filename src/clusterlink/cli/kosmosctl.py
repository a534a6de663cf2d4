"""``kosmosctl`` (also the kubectl plugin ``kubectl-kosmos``): the user's command line.

Subcommands are imported when used (:mod:`clusterlink.cli.lazy_group`), so a command loads
its own modules and not every other subcommand's.
"""

from __future__ import annotations

import click

from clusterlink import __version__
from clusterlink.cli.lazy_group import LazyGroup

SUBCOMMANDS = {
    "plan": "clusterlink.cli.plan:plan_command",
    "get": "clusterlink.cli.get:get_command",
    "apply": "clusterlink.cli.apply:apply_command",
    "delete": "clusterlink.cli.apply:delete_command",
    "lab": "clusterlink.cli.lab:lab",
    "dr": "clusterlink.cli.doctor:doctor_command",
    "check": "clusterlink.cli.doctor:doctor_command",
    "install": "clusterlink.cli.install:install_command",
    "join": "clusterlink.cli.install:join_group",
    "unjoin": "clusterlink.cli.install:unjoin_group",
    "uninstall": "clusterlink.cli.install:uninstall_command",
}


@click.group(
    cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="kosmosctl")
def main() -> None:
    """Link the pod and host networks of Kubernetes clusters (Kosmos ClusterLink)."""
