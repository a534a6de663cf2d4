"""``kosmosctl apply`` and ``kosmosctl delete``: write objects to a store kubectl cannot reach.

``apply`` creates or replaces every object of a file; a ``status`` in the file is written
too (through the status subresource), which is how the lab and tests stand in for the
controllers that normally write it. Every object is validated before anything is written.
Both commands print one line per object and try every object even when one fails
(:func:`run_per_object`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
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


# --- one line per object ---------------------------------------------------------------------

ObjectWork = Callable[[ObjectStore], str | None]
"""One object's share of a command: returns what happened ("created", "deleted", ...) or
None to print nothing; raises :class:`ObjectError` or a store error when it fails."""


class ObjectError(Exception):
    """One object failed; the message follows its label: ``Error: <label> <message>``."""


def object_label(kind: str, name: str) -> str:
    return f"{kind.lower()}.kosmos.io/{name}"


def _report_one(store: ObjectStore, label: str, work: ObjectWork) -> bool:
    """Do one object's work and print its line; False when it failed."""
    try:
        verb = work(store)
    except ObjectError as exc:
        click.echo(f"Error: {label} {exc}", err=True)
        return False
    except StoreError as exc:
        click.echo(f"Error: {label}: {exc}", err=True)
        return False
    if verb is not None:
        click.echo(f"{label} {verb}")
    return True


def run_per_object(store_url: str, work: Iterable[tuple[str, ObjectWork]]) -> None:
    """Each labelled work item against the store, one line each; every item is tried, and
    the exit status is 1 when any failed."""
    store = connect(store_url)
    try:
        failures = [label for label, item in work if not _report_one(store, label, item)]
    finally:
        store.close()
    if failures:
        sys.exit(EXIT_FAILED)


# --- apply / delete ----------------------------------------------------------------------------


def _applier(document: dict[str, Any]) -> ObjectWork:
    return lambda store: apply_document(store, document)


def _deleter(kind: str, name: str, *, ignore_not_found: bool) -> ObjectWork:
    def delete(store: ObjectStore) -> str | None:
        try:
            store.delete(kind, name)
        except NotFoundError:
            if ignore_not_found:
                return None
            raise ObjectError("not found") from None
        return "deleted"

    return delete


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
    run_per_object(
        store_url,
        ((object_label(obj.kind, obj.name), _applier(to_document(obj))) for obj in objects),
    )


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
    run_per_object(
        store_url,
        (
            (object_label(kind, name), _deleter(kind, name, ignore_not_found=ignore_not_found))
            for name in names
        ),
    )
