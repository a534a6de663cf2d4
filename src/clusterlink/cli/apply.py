"""``kosmosctl apply`` and ``kosmosctl delete``: write objects to a store kubectl cannot reach.

``apply`` creates or replaces every object of a file; a ``status`` in the file is written
too (through the status subresource), which is how the lab and tests stand in for the
controllers that normally write it. Every object is validated before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from clusterlink.api.errors import InvalidDocumentError
from clusterlink.api.serialization import load_documents, to_document
from clusterlink.cli.output import BadInputError
from clusterlink.cli.store_access import connect, resolve_kind, store_option
from clusterlink.store import NotFoundError, ObjectStore, StoreError

EXIT_FAILED = 1


def apply_document(store: ObjectStore, document: dict[str, Any]) -> str:
    """Create or replace one object; returns what happened ("created", "configured", ...)."""
    kind, name = document["kind"], document["metadata"]["name"]
    status = document.pop("status", None)
    document["metadata"].pop("resourceVersion", None)
    try:
        current = store.get(kind, name)
    except NotFoundError:
        stored = store.create(document)
        verb = "created"
    else:
        metadata = {
            **current["metadata"],
            **{k: v for k, v in document["metadata"].items() if v not in (None, {}, [])},
        }
        stored = store.update({**document, "metadata": metadata})
        verb = (
            "configured"
            if stored["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]
            else "unchanged"
        )
    if status and status != stored.get("status"):
        store.update_status({**stored, "status": status})
        verb = "configured" if verb == "unchanged" else verb
    return verb


@click.command("apply")
@click.option("-f", "--filename", "source", required=True, help="YAML/JSON file ('-': stdin).")
@store_option
def apply_command(source: str, store_url: str) -> None:
    """Create or update the Cluster, ClusterNode and NodeConfig objects of a file."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        objects = load_documents(text)
    except (OSError, InvalidDocumentError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read {source}: {exc}") from None
    store = connect(store_url)
    failed = False
    try:
        for obj in objects:
            label = f"{obj.kind.lower()}.kosmos.io/{obj.name}"
            try:
                click.echo(f"{label} {apply_document(store, to_document(obj))}")
            except StoreError as exc:
                click.echo(f"Error: {label}: {exc}", err=True)
                failed = True
    finally:
        store.close()
    if failed:
        sys.exit(EXIT_FAILED)


@click.command("delete")
@click.argument("resource")
@click.argument("names", nargs=-1, required=True)
@store_option
@click.option("--ignore-not-found", is_flag=True)
def delete_command(
    resource: str, names: tuple[str, ...], store_url: str, ignore_not_found: bool
) -> None:
    """Delete clusters, clusternodes or nodeconfigs by name."""
    kind = resolve_kind(resource)
    store = connect(store_url)
    failed = False
    try:
        for name in names:
            label = f"{kind.lower()}.kosmos.io/{name}"
            try:
                store.delete(kind, name)
                click.echo(f"{label} deleted")
            except NotFoundError:
                if not ignore_not_found:
                    click.echo(f"Error: {label} not found", err=True)
                    failed = True
            except StoreError as exc:
                click.echo(f"Error: {label}: {exc}", err=True)
                failed = True
    finally:
        store.close()
    if failed:
        sys.exit(EXIT_FAILED)
