"""Subcommands of ``kosmosctl`` and ``clusterlink`` load when used, and every one loads.

Start-up time is most of a quick command's run and of a lab's bring-up (a dozen component
processes), so a command imports its own module only. Checked in a fresh interpreter,
since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from clusterlink.cli.components import main as clusterlink_cli
from clusterlink.cli.kosmosctl import main as kosmosctl
from clusterlink.cli.lazy_group import LazyGroup, load_command


def loaded_after(program: str, arguments: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after running ``program`` with ``arguments``."""
    script = (
        "import json, sys\n"
        f"from {program} import main\n"
        "try:\n"
        f"    main({arguments!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(modules)


def test_kosmosctl_version_imports_no_subcommand() -> None:
    loaded = loaded_after("clusterlink.cli.kosmosctl", ["--version"])

    assert not {m for m in loaded if m.startswith("clusterlink.cli.")} - {
        "clusterlink.cli",
        "clusterlink.cli.kosmosctl",
        "clusterlink.cli.lazy_group",
    }


def test_a_component_loads_its_own_command_and_not_the_kube_client_for_other_stores() -> None:
    loaded = loaded_after("clusterlink.cli.components", ["floater", "--help"])

    assert "clusterlink.cli.floater" in loaded
    others = ("agent", "agent_run", "network_manager", "controller_manager", "elector")
    assert not {f"clusterlink.cli.{name}" for name in others} & loaded
    assert "lightkube" not in loaded


@pytest.mark.parametrize("group", [kosmosctl, clusterlink_cli], ids=["kosmosctl", "clusterlink"])
def test_every_listed_subcommand_loads_under_its_name_or_as_an_alias(group: click.Group) -> None:
    context = click.Context(group)
    names = group.list_commands(context)

    assert names
    for name in names:
        command = group.get_command(context, name)
        assert isinstance(command, click.Command), name
        assert command.name == name or (name, command.name) == ("check", "dr")


def test_the_agent_group_has_its_daemon_as_a_lazy_subcommand() -> None:
    agent = clusterlink_cli.get_command(click.Context(clusterlink_cli), "agent")

    assert isinstance(agent, LazyGroup)
    assert agent.list_commands(click.Context(agent)) == ["apply", "run", "show"]


def test_a_location_that_is_not_a_command_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"clusterlink\.cli\.kosmosctl:SUBCOMMANDS is a dict"):
        load_command("clusterlink.cli.kosmosctl:SUBCOMMANDS")
