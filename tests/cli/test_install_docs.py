"""docs/install.md documents every flag of the commands it walks through, as the code has it.

Each command has a section headed "Flags of `kosmosctl <command>`" holding a Markdown table
whose first cell names the flags and whose second cell gives the default. For every option
of the click command (read from the command itself, so a new flag cannot be forgotten) the
section must have a row naming each long form (``--enable-link`` and ``--disable-link``
alike), the default in backticks when the option has one, every choice of a
``click.Choice`` in backticks, and its environment variable when it reads one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import click
import pytest

from clusterlink.cli.kosmosctl import main

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "install.md"
README = ROOT / "README.md"

DOCUMENTED_COMMANDS = ("install", "join cluster", "unjoin cluster", "uninstall", "dr")

_HEADING = re.compile(r"^#+\s+Flags of `kosmosctl (?P<command>[a-z ]+)`\s*$")
_LONG_FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*")
_CODE = re.compile(r"`([^`]*)`")


def command(path: str) -> click.Command:
    """The click command ``path`` names (``"join cluster"``) under ``kosmosctl``."""
    found: click.Command = main
    for word in path.split():
        assert isinstance(found, click.Group), f"{path}: {found.name} has no subcommands"
        subcommand = found.get_command(click.Context(found), word)
        assert subcommand is not None, f"{path}: {found.name} has no subcommand {word}"
        found = subcommand
    return found


def long_names(option: click.Option) -> list[str]:
    return [name for name in (*option.opts, *option.secondary_opts) if name.startswith("--")]


def flag_tables(text: str) -> dict[str, list[list[str]]]:
    """Command -> the table rows (cells) of its "Flags of" section."""
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = tables.setdefault(heading["command"], [])
        elif line.startswith("#"):
            current = None
        elif current is not None and line.startswith("|"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return tables


def row_for(option: click.Option, rows: Sequence[list[str]]) -> list[str] | None:
    """The row whose first cell names every long form of ``option``."""
    wanted = set(long_names(option))
    for row in rows:
        if wanted <= set(_LONG_FLAG.findall(row[0])):
            return row
    return None


def default_texts(option: click.Option) -> set[str]:
    """How the default may be written (``300`` or ``300.0``); empty when there is none."""
    default = option.to_info_dict()["default"]  # None when unset (option.default is UNSET)
    if default is None or default is False or default in ("", ()) or callable(default):
        return set()
    if default is True and option.secondary_opts:
        return {long_names(option)[0]}
    if isinstance(default, float):
        return {f"{default:g}", str(default)}
    return {str(default)}


def choices(option: click.Option) -> list[str]:
    return list(option.type.choices) if isinstance(option.type, click.Choice) else []


def envvars(option: click.Option) -> list[str]:
    if option.envvar is None:
        return []
    return [option.envvar] if isinstance(option.envvar, str) else list(option.envvar)


def suggested_row(option: click.Option) -> str:
    names = ", ".join(f"`{name}`" for name in (*option.opts, *option.secondary_opts))
    default = " or ".join(f"`{text}`" for text in sorted(default_texts(option))) or "—"
    return f"| {names} | {default} | {option.help or '...'} |"


def problems_with(option: click.Option, rows: Sequence[list[str]]) -> list[str]:
    row = row_for(option, rows)
    if row is None:
        return [f"no row for {'/'.join(long_names(option))}; add: {suggested_row(option)}"]
    if len(row) < 3:
        return [f"row {row[0]}: expected | flags | default | meaning |"]
    found: list[str] = []
    defaults = default_texts(option)
    if defaults and not defaults & set(_CODE.findall(row[1])):
        found.append(f"{row[0]}: the default cell should say `{sorted(defaults)[0]}`")
    in_row = set(_CODE.findall(" ".join(row)))
    found += [f"{row[0]}: choice `{c}` not listed" for c in choices(option) if c not in in_row]
    text = " ".join(row)
    found += [f"{row[0]}: ${name} not mentioned" for name in envvars(option) if name not in text]
    return found


@pytest.fixture(scope="module")
def tables() -> dict[str, list[list[str]]]:
    return flag_tables(GUIDE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", DOCUMENTED_COMMANDS)
def test_every_flag_is_documented_with_its_default_and_choices(
    path: str, tables: dict[str, list[list[str]]]
) -> None:
    assert path in tables, f'docs/install.md has no "Flags of `kosmosctl {path}`" section'
    options = [p for p in command(path).params if isinstance(p, click.Option)]
    problems = [problem for option in options for problem in problems_with(option, tables[path])]
    assert not problems, f"docs/install.md, flags of kosmosctl {path}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", DOCUMENTED_COMMANDS)
def test_the_guide_documents_no_flag_the_command_lacks(
    path: str, tables: dict[str, list[list[str]]]
) -> None:
    options = [p for p in command(path).params if isinstance(p, click.Option)]
    actual = {name for option in options for name in long_names(option)}
    documented = {name for row in tables.get(path, []) for name in _LONG_FLAG.findall(row[0])}
    assert documented - actual == set(), f"kosmosctl {path} has no such flags"


def test_the_readme_links_the_guide() -> None:
    assert "(docs/install.md)" in README.read_text(encoding="utf-8")
