"""``kosmosctl`` (also the kubectl plugin ``kubectl-kosmos``): the user's command line."""

from __future__ import annotations

import click

from clusterlink import __version__
from clusterlink.cli.apply import apply_command, delete_command
from clusterlink.cli.doctor import doctor_command
from clusterlink.cli.get import get_command
from clusterlink.cli.install import (
    install_command,
    join_group,
    uninstall_command,
    unjoin_group,
)
from clusterlink.cli.lab import lab
from clusterlink.cli.plan import plan_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kosmosctl")
def main() -> None:
    """Link the pod and host networks of Kubernetes clusters (Kosmos ClusterLink)."""


main.add_command(plan_command)
main.add_command(get_command)
main.add_command(apply_command)
main.add_command(delete_command)
main.add_command(lab)
main.add_command(doctor_command, "dr")
main.add_command(doctor_command, "check")
main.add_command(install_command)
main.add_command(join_group)
main.add_command(unjoin_group)
main.add_command(uninstall_command)
