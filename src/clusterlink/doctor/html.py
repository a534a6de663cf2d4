"""A self-contained HTML page of a doctor run: a source-by-destination matrix to share.

One cell per (source floater, destination floater), coloured by its worst result (green:
all passed, red: a probe failed, amber: a probe could not run, grey: not checked); hovering
a cell lists every protocol and family with RTT and error. Failures are explained below
the matrix. No scripts or external files: it opens anywhere, also from a CI artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from clusterlink.doctor.paths import Explanation
from clusterlink.doctor.report import Summary
from clusterlink.doctor.verdicts import CheckResult

_RANK = {"SUCCESSED": 0, "EXCEPTION": 1, "FAILED": 2}
_CLASS = {"SUCCESSED": "ok", "EXCEPTION": "exception", "FAILED": "failed"}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table.matrix { border-collapse: collapse; font-size: 12px; }
table.matrix th, table.matrix td { border: 1px solid #ccc; padding: 4px 6px; }
table.matrix th.col { writing-mode: vertical-rl; transform: rotate(180deg); }
td.ok { background: #2e9d4f; } td.failed { background: #d43c3c; }
td.exception { background: #e8a33d; } td.none { background: #eee; }
td.cell { width: 22px; height: 22px; cursor: help; }
.summary.ok { color: #2e9d4f; } .summary.bad { color: #d43c3c; }
li { margin-bottom: .6rem; } code { background: #f4f4f4; padding: 0 3px; }
"""


def _label(result: CheckResult) -> str:
    outcome = result.outcome
    rtt = ""
    if outcome is not None and outcome.rtt_avg is not None:
        rtt = f" rtt {outcome.rtt_avg:.2f} ms loss {outcome.loss:.0%}"
    if outcome is not None and outcome.mtu is not None:
        rtt = f" mtu {outcome.mtu}"
    detail = f" — {result.detail}" if result.detail else ""
    check = result.check
    return f"{result.protocol} ipv{check.family} {check.address}: {result.status}{rtt}{detail}"


def render_html(
    results: Sequence[CheckResult], explanations: Sequence[Explanation], summary: Summary
) -> str:
    sources = sorted({r.check.source.name for r in results})
    destinations = sorted({r.check.destination.name for r in results})
    cells: dict[tuple[str, str], list[CheckResult]] = {}
    for result in results:
        key = (result.check.source.name, result.check.destination.name)
        cells.setdefault(key, []).append(result)
    header = "".join(f'<th class="col">{escape(name)}</th>' for name in destinations)
    rows: list[str] = []
    for source in sources:
        tds: list[str] = []
        for destination in destinations:
            found = cells.get((source, destination))
            if not found:
                tds.append('<td class="cell none" title="not checked"></td>')
                continue
            worst = max(found, key=lambda r: _RANK[r.status]).status
            title = f"{source} → {destination}\n" + "\n".join(_label(r) for r in found)
            tds.append(f'<td class="cell {_CLASS[worst]}" title="{escape(title)}"></td>')
        rows.append(f"<tr><th>{escape(source)}</th>{''.join(tds)}</tr>")
    items = "".join(
        "<li><b>{} → {}</b> ({} {}, {}): {}<br>path: {}<br>reply: {}</li>".format(
            escape(e.check.source.name),
            escape(e.check.destination.name),
            escape(e.check.network),
            f"ipv{e.check.family}",
            escape(", ".join(e.protocols)),
            escape(e.verdict),
            escape(" → ".join(h.describe() for h in e.forward)),
            escape(" → ".join(h.describe() for h in e.reply)),
        )
        for e in explanations
    )
    explained = f"<h2>Failures explained</h2><ul>{items}</ul>" if explanations else ""
    verdict = "ok" if summary.ok else "bad"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>kosmosctl dr</title><style>{_STYLE}</style></head><body>"
        "<h1>ClusterLink connectivity</h1>"
        f'<p class="summary {verdict}">{escape(summary.line())}</p>'
        "<p>Rows: source floater; columns: destination floater. Hover a cell for details.</p>"
        f'<table class="matrix"><tr><th></th>{header}</tr>{"".join(rows)}</table>'
        f"{explained}</body></html>\n"
    )
