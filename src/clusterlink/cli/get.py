"""``kosmosctl get``: the kosmos.io objects of the control plane, with their problems.

Columns follow upstream's printer columns (NETWORK_TYPE, IP_FAMILY; ROLES, INTERFACE, IP)
plus what users ask first: is a NodeConfig applied on its node, and what is wrong.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from clusterlink.api.errors import ObjectRef, Problem, Severity
from clusterlink.cli.output import BadInputError, print_documents, print_problems, print_table
from clusterlink.cli.store_access import connect, resolve_kind, store_option
from clusterlink.store import NotFoundError, StoreError

EXIT_UNREACHABLE = 1


def _conditions(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list((document.get("status") or {}).get("conditions") or [])


def _condition(document: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in _conditions(document) if c.get("type") == kind), None)


def sync_status(document: dict[str, Any]) -> str:
    """Whether the node's agent applied the current spec: Synced, Pending, Failed or Unknown."""
    status = document.get("status") or {}
    applied = _condition(document, "Applied")
    if status.get("observedGeneration") is None or applied is None:
        return "Unknown"
    if status["observedGeneration"] != document["metadata"].get("generation"):
        return "Pending"
    return "Synced" if applied.get("status") == "True" else "Failed"


def _valid(document: dict[str, Any]) -> str:
    condition = _condition(document, "Valid")
    if condition is None:
        return "Unknown"
    return {"NoProblems": "Yes", "Warnings": "Warnings"}.get(condition.get("reason", ""), "No")


def _problems(kind: str, documents: list[dict[str, Any]]) -> list[Problem]:
    """The problems the components reported on these objects' Valid/Applied conditions."""
    found = []
    for document in documents:
        ref = ObjectRef(kind, document["metadata"]["name"])
        for condition in _conditions(document):
            if condition.get("type") not in ("Valid", "Applied", "CIDRsDiscovered"):
                continue
            if condition.get("status") == "True" and condition.get("reason") != "Warnings":
                continue
            severity: Severity = "error" if condition.get("status") == "False" else "warning"
            found.append(Problem(ref, condition["type"], condition.get("message", ""), severity))
    return found


def _rows(
    kind: str, documents: list[dict[str, Any]], wide: bool
) -> tuple[list[str], list[list[Any]]]:
    if kind == "Cluster":
        columns = ["NAME", "NETWORK_TYPE", "IP_FAMILY", "VALID"]
        if wide:
            columns += ["POD_CIDRS", "SERVICE_CIDRS"]
        rows = []
        for d in documents:
            options = (d.get("spec") or {}).get("clusterLinkOptions") or {}
            cidrs = (d.get("status") or {}).get("clusterLinkStatus") or {}
            row = [
                d["metadata"]["name"],
                options.get("networkType", ""),
                options.get("ipFamily", ""),
                _valid(d),
            ]
            if wide:
                row += [
                    ",".join(cidrs.get("podCIDRs") or []) or "-",
                    ",".join(cidrs.get("serviceCIDRs") or []) or "-",
                ]
            rows.append(row)
        return columns, rows
    if kind == "ClusterNode":
        columns = ["NAME", "ROLES", "INTERFACE", "IP"]
        if wide:
            columns += ["IP6", "CLUSTER", "POD_CIDRS", "VALID"]
        rows = []
        for d in documents:
            spec = d.get("spec") or {}
            row = [
                d["metadata"]["name"],
                ",".join(spec.get("roles") or []) or "<none>",
                spec.get("interfaceName", ""),
                spec.get("ip", ""),
            ]
            if wide:
                row += [
                    spec.get("ip6", "") or "-",
                    spec.get("clusterName", ""),
                    ",".join(spec.get("podCIDRs") or []) or "-",
                    _valid(d),
                ]
            rows.append(row)
        return columns, rows
    columns = ["NAME", "DEVICES", "ROUTES", "FDBS", "ARPS", "IPTABLES", "SYNC"]
    if wide:
        columns += ["LAST_SYNC", "CLUSTER"]
    rows = []
    for d in documents:
        spec = d.get("spec") or {}
        row = [
            d["metadata"]["name"],
            *(len(spec.get(k) or []) for k in ("devices", "routes", "fdbs", "arps", "iptables")),
            sync_status(d),
        ]
        if wide:
            row += [
                (d.get("status") or {}).get("lastSyncTime", "-"),
                d["metadata"].get("labels", {}).get("kosmos.io/cluster", "-"),
            ]
        rows.append(row)
    return columns, rows


@click.command("get")
@click.argument("resource")
@click.argument("name", required=False)
@store_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json", "yaml"]),
    default="table",
    show_default=True,
)
@click.option("-l", "--selector", default="", help="Label selector, e.g. kosmos.io/cluster=a.")
def get_command(
    resource: str, name: str | None, store_url: str, output: str, selector: str
) -> None:
    """List clusters, clusternodes (cn) or nodeconfigs (nc), or show one by NAME."""
    kind = resolve_kind(resource)
    store = connect(store_url)
    try:
        if name:
            documents = [store.get(kind, name)]
        else:
            documents = list(store.list(kind, label_selector=selector).items)
    except NotFoundError:
        raise BadInputError(f'{kind} "{name}" not found') from None
    except StoreError as exc:
        click.echo(f"Error: cannot read {kind} objects from {store_url}: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    finally:
        store.close()
    if output in ("json", "yaml"):
        print_documents(documents, output, as_list=not name)
        return
    if not documents:
        click.echo(f"No {kind} objects found.", err=True)
        return
    columns, rows = _rows(kind, documents, wide=output == "wide")
    print_table(None, columns, rows)
    print_problems(_problems(kind, documents))
