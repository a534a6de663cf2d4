"""Rendering for the CLI: kubectl-style ``-o table|wide|json|yaml`` and error reporting.

Tables go to the terminal through rich; machine formats are printed plain so they can be
piped. Problems always go to standard error, so standard output stays parseable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from clusterlink.api.errors import Problem

OUTPUT_FORMATS = ("table", "wide", "json", "yaml")


class BadInputError(click.ClickException):
    """Input that cannot be read at all: exit status 2, as kubectl uses for it."""

    exit_code = 2


def output_option(*formats: str) -> Any:
    chosen = formats or OUTPUT_FORMATS
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(chosen),
        default=chosen[0],
        show_default=True,
        help="Output format.",
    )


def print_documents(
    documents: Sequence[dict[str, Any]], output: str, *, as_list: bool = True
) -> None:
    """Objects as a kubectl ``List`` (json; one object alone when not ``as_list``) or
    multi-document YAML (yaml)."""
    if output == "json":
        payload = (
            {"apiVersion": "v1", "kind": "List", "items": list(documents)}
            if as_list
            else documents[0]
        )
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(yaml.safe_dump_all(documents, sort_keys=False), nl=False)


def _console(*, stderr: bool = False) -> Console:
    """A console that, like kubectl, never truncates cells when output is not a terminal."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=250)


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, box=None, header_style="bold", pad_edge=False, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    _console().print(table)


def print_problems(problems: Sequence[Problem]) -> None:
    """Problems on standard error, errors first, each naming object and field."""
    if not problems:
        return
    console = _console(stderr=True)
    ordered = sorted(problems, key=lambda p: (p.severity != "error", str(p.ref), p.field))
    table = Table(
        title=f"{len(problems)} problem(s)", box=None, header_style="bold", title_justify="left"
    )
    for column in ("SEVERITY", "OBJECT", "FIELD", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for problem in ordered:
        style = "red" if problem.severity == "error" else "yellow"
        table.add_row(
            f"[{style}]{problem.severity}[/]", str(problem.ref), problem.field, problem.message
        )
    console.print(table)
