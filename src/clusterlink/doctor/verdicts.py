"""From the floaters' answers to one result per (check, protocol), in upstream's words.

``SUCCESSED`` (a reply came), ``FAILED`` (probes went out, nothing came back) and
``EXCEPTION`` (the probe could not be run: the floater did not answer its plan, rejected
it, or could not send at all), the three results of upstream's ``kosmosctl check``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from clusterlink.doctor.matrix import Check, Matrix
from clusterlink.floater.outcome import PlanOutcome, ProbeOutcome

Status = Literal["SUCCESSED", "FAILED", "EXCEPTION"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    protocol: str
    status: Status
    outcome: ProbeOutcome | None = None
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "SUCCESSED"


def judge(
    matrix: Matrix, answers: Mapping[str, PlanOutcome], unanswered: Mapping[str, str]
) -> list[CheckResult]:
    """One result per check and protocol; ``unanswered`` says why a source gave no answer
    (by floater name) when the doctor knows better than "did not answer in time"."""
    results: list[CheckResult] = []
    outcomes: dict[tuple[str, str, str], ProbeOutcome] = {  # (source, target, protocol)
        (name, o.target, o.protocol): o for name, answer in answers.items() for o in answer.outcomes
    }
    for check in matrix.checks:
        answer = answers.get(check.source.name)
        for protocol in matrix.options.protocols:
            if answer is None:
                why = unanswered.get(check.source.name, "did not answer its plan in time")
                detail = f"floater {check.source.name} {why}"
                results.append(CheckResult(check, protocol, "EXCEPTION", detail=detail))
                continue
            if answer.error:
                results.append(CheckResult(check, protocol, "EXCEPTION", detail=answer.error))
                continue
            outcome = outcomes.get((check.source.name, check.target_id, protocol))
            if outcome is None:
                results.append(CheckResult(check, protocol, "EXCEPTION", detail="no outcome"))
            elif outcome.success:
                results.append(CheckResult(check, protocol, "SUCCESSED", outcome))
            elif outcome.sent == 0:
                results.append(CheckResult(check, protocol, "EXCEPTION", outcome, outcome.error))
            else:
                results.append(CheckResult(check, protocol, "FAILED", outcome, outcome.error))
    return results
