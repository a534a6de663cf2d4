"""The doctor's results as data: the summary line, upstream's table columns, one document.

Rendering (terminal, JSON, YAML, HTML) is left to the callers; this module decides what is
shown, so every format says the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clusterlink.doctor.matrix import Matrix
from clusterlink.doctor.paths import Explanation
from clusterlink.doctor.verdicts import CheckResult

TABLE_COLUMNS = ("S/N", "SRC_NODE_NAME", "DST_NODE_NAME", "TARGET_IP", "RESULT")
WIDE_COLUMNS = (*TABLE_COLUMNS, "NETWORK", "PROTOCOL", "FAMILY", "RTT_MS", "LOSS", "DETAIL")


@dataclass(frozen=True, slots=True)
class Summary:
    probes: int
    passed: int
    failed: int
    exceptions: int
    floaters: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.passed == self.probes

    def line(self) -> str:
        verdict = "all passed" if self.ok else "NOT all passed"
        return (
            f"{verdict}: {self.passed}/{self.probes} probe(s) passed, {self.failed} failed, "
            f"{self.exceptions} exception(s), {self.floaters} floater(s), {self.seconds:.1f} s"
        )


def summarize(matrix: Matrix, results: Sequence[CheckResult], seconds: float) -> Summary:
    return Summary(
        probes=len(results),
        passed=sum(r.status == "SUCCESSED" for r in results),
        failed=sum(r.status == "FAILED" for r in results),
        exceptions=sum(r.status == "EXCEPTION" for r in results),
        floaters=len(
            {c.source.name for c in matrix.checks} | {c.destination.name for c in matrix.checks}
        ),
        seconds=seconds,
    )


def _rtt(result: CheckResult) -> str:
    outcome = result.outcome
    if outcome is None:
        return "-"
    if outcome.mtu is not None:
        return f"mtu {outcome.mtu}"
    if outcome.rtt_avg is None:
        return "-"
    return f"{outcome.rtt_min:.2f}/{outcome.rtt_avg:.2f}/{outcome.rtt_max:.2f}"


def table_rows(results: Sequence[CheckResult], *, wide: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for number, result in enumerate(results, start=1):
        check = result.check
        row: tuple[str, ...] = (
            str(number),
            check.source.node_config,
            check.destination.node_config,
            check.address,
            result.status,
        )
        if wide:
            loss = f"{result.outcome.loss:.0%}" if result.outcome is not None else "-"
            row += (
                check.network,
                result.protocol,
                f"ipv{check.family}",
                _rtt(result),
                loss,
                result.detail,
            )
        rows.append(row)
    return rows


def result_document(result: CheckResult) -> dict[str, Any]:
    check = result.check
    document: dict[str, Any] = {
        "source": check.source.name,
        "sourceNode": check.source.node_config,
        "destination": check.destination.name,
        "destinationNode": check.destination.node_config,
        "targetIP": check.address,
        "network": check.network,
        "family": f"ipv{check.family}",
        "protocol": result.protocol,
        "result": result.status,
        "detail": result.detail,
    }
    if result.outcome is not None:
        outcome = result.outcome.to_document()
        for key in ("sent", "received", "loss", "rttMin", "rttAvg", "rttMax", "mtu"):
            document[key] = outcome[key]
    return document


def report_document(
    matrix: Matrix,
    results: Sequence[CheckResult],
    explanations: Sequence[Explanation],
    summary: Summary,
) -> dict[str, Any]:
    return {
        "kind": "ConnectivityReport",
        "run": matrix.run,
        "summary": {
            "passed": summary.ok,
            "probes": summary.probes,
            "succeeded": summary.passed,
            "failed": summary.failed,
            "exceptions": summary.exceptions,
            "floaters": summary.floaters,
            "seconds": round(summary.seconds, 3),
        },
        "results": [result_document(r) for r in results],
        "explanations": [e.to_document() for e in explanations],
    }
