"""A click group that imports a subcommand's module only when that subcommand is used.

Importing every subcommand costs most of a quick command's run time: ``kosmosctl
--version`` or ``get`` need nothing of the installer, and a lab starts a dozen component
processes that each run one component. The group lists its subcommands by name and loads
one when click resolves it (running it, or ``--help`` listing them all).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """``lazy`` maps a subcommand's name to ``"package.module:attribute"``, the click
    command it runs; one command may be listed under several names (aliases)."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return load_command(self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)


def load_command(location: str) -> click.Command:
    """The click command at ``"package.module:attribute"``."""
    module_name, _, attribute = location.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{location} is a {type(command).__name__}, not a click command")
    return command
