"""``clusterlink agent``: converge this host (or a network namespace) to a NodeConfig once,
or show the state the agent owns as a spec.

Exit codes: 0 converged (or, with ``--dry-run``, the plan was computed), 1 some changes
failed (each listed with the kernel's message), 2 the input is invalid and nothing was
touched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import click
import yaml
from pydantic import ValidationError

from clusterlink.api.errors import InvalidDocumentError, InvalidObjectError, ObjectRef
from clusterlink.api.models import NodeConfig, NodeConfigSpec
from clusterlink.api.serialization import field_path, load_documents
from clusterlink.cli.lazy_group import LazyGroup
from clusterlink.dataplane import ConvergeResult, InvalidSpecError, converge, read_state
from clusterlink.dataplane.netns import NamespaceError
from clusterlink.dataplane.state import StateReadError

EXIT_FAILED = 1
EXIT_INVALID = 2
_SPEC_KEYS = frozenset(("devices", "routes", "iptables", "fdbs", "arps"))


class InputError(click.ClickException):
    """Invalid input: reported on stderr, exit code 2, nothing touched."""

    exit_code = EXIT_INVALID


@click.group("agent", cls=LazyGroup, lazy={"run": "clusterlink.cli.agent_run:agent_run"})
def agent() -> None:
    """The node agent's data plane: apply a NodeConfig once, or show the current state."""


@agent.command("apply")
@click.option(
    "-f",
    "--filename",
    "source",
    required=True,
    type=click.File("r"),
    help="A NodeConfig object or a bare NodeConfig spec (YAML or JSON); - reads stdin.",
)
@click.option("--netns", default=None, help="Network namespace to converge instead of the host.")
@click.option("--dry-run", is_flag=True, help="Print the changes that would be made; make none.")
def apply_command(source: TextIO, netns: str | None, dry_run: bool) -> None:
    """Converge once to the NodeConfig in FILE and print the changes made."""
    spec, ref = _load_spec(source.read(), source.name)
    try:
        result = converge(spec, netns, dry_run=dry_run, ref=ref)
    except InvalidSpecError as exc:
        raise InputError(f"invalid spec, nothing changed:\n{exc}") from None
    except (NamespaceError, StateReadError) as exc:
        raise click.ClickException(str(exc)) from None
    _report(result)
    if result.failed:
        sys.exit(EXIT_FAILED)


@agent.command("show")
@click.option("--netns", default=None, help="Network namespace to read instead of the host.")
@click.option(
    "-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
def show_command(netns: str | None, output: str) -> None:
    """Print the state the agent owns as a NodeConfig spec that ``apply`` accepts."""
    try:
        spec = read_state(netns)
    except (NamespaceError, StateReadError) as exc:
        raise click.ClickException(str(exc)) from None
    document = spec.model_dump(mode="json", by_alias=True)
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(yaml.safe_dump(document, sort_keys=False), nl=False)


def _load_spec(text: str, name: str) -> tuple[NodeConfigSpec, ObjectRef]:
    """The spec of a NodeConfig document, or of a bare spec mapping."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{name}: not valid YAML: {exc}") from None
    if isinstance(document, Mapping) and "kind" not in document and document.keys() <= _SPEC_KEYS:
        ref = ObjectRef("NodeConfig", name)
        try:
            return NodeConfigSpec.model_validate(document), ref
        except ValidationError as exc:
            details = "\n".join(f"  spec.{field_path(e['loc'])}: {e['msg']}" for e in exc.errors())
            raise InputError(f"{ref}: invalid spec:\n{details}") from None
    try:
        objects = load_documents(text)
    except (InvalidDocumentError, InvalidObjectError) as exc:
        raise InputError(f"{name}: {exc}") from None
    configs = [obj for obj in objects if isinstance(obj, NodeConfig)]
    if len(configs) != 1 or len(objects) != 1:
        raise InputError(f"{name}: expected exactly one NodeConfig (or a bare spec)")
    return configs[0].spec, ObjectRef("NodeConfig", configs[0].name)


def _report(result: ConvergeResult) -> None:
    prefix = "would " if result.dry_run else ""
    for change in result.applied:
        click.echo(f"{prefix}{change}")
    for failure in result.failed:
        click.echo(f"failed: {failure}", err=True)
    if result.dry_run:
        summary = f"{len(result.applied)} change(s) would be made"
        if not result.applied:
            summary = "no changes: already converged"
    elif result.applied or result.failed:
        summary = f"{len(result.applied)} change(s) applied, {len(result.failed)} failed"
    else:
        summary = "no changes: already converged"
    click.echo(summary, err=bool(result.failed))
