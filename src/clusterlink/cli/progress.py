"""Progress of long ``kosmosctl`` commands on standard error, so standard output stays
parseable: a rich spinner while a step runs, one line per object written or removed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.markup import escape

from clusterlink.deploy.applier import Applied
from clusterlink.deploy.preflight import PreflightFinding

_STYLES = {
    "created": "green",
    "configured": "green",
    "deleted": "yellow",
    "kept": "cyan",
    "skipped": "dim",
    "unchanged": "dim",
}


class ConsoleReporter:
    """A :class:`~clusterlink.deploy.lifecycle.Reporter` writing to standard error."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True, soft_wrap=True)
        self._skipped: dict[tuple[str, str], list[str]] = {}

    def step(self, text: str) -> AbstractContextManager[None]:
        return self._step(text)

    @contextmanager
    def _step(self, text: str) -> Iterator[None]:
        with self._console.status(escape(text) + " ..."):
            yield
        self._flush_skipped()
        self._console.print(f"[bold]✓[/] {escape(text)}")

    def applied(self, where: str, applied: Applied) -> None:
        if applied.verb == "skipped":
            self._skipped.setdefault((where, applied.note), []).append(applied.target.kind)
            return
        style = _STYLES.get(applied.verb, "")
        self._console.print(f"  {escape(where)}: [{style}]{escape(str(applied))}[/]")

    def _flush_skipped(self) -> None:
        """Skipped objects as one line per reason: on a store that is most of them."""
        for (where, note), kinds in self._skipped.items():
            listed = ", ".join(sorted(set(kinds)))
            self._console.print(
                f"  {escape(where)}: [dim]{len(kinds)} objects skipped ({escape(listed)}): "
                f"{escape(note)}[/]"
            )
        self._skipped.clear()

    def say(self, text: str) -> None:
        self._console.print(escape(text))

    def findings(self, findings: Sequence[PreflightFinding]) -> None:
        styles = {"error": "red", "warning": "yellow", "note": "dim"}
        for finding in dict.fromkeys(findings):
            style = styles[finding.severity]
            where = escape(f"[{finding.check}]")
            self._console.print(f"[{style}]{finding.severity}[/] {where} {escape(finding.message)}")
