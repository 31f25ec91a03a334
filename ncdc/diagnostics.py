"""Diagnostics: the one record every layer reports, plus selection (``--select``/``--ignore``).

A diagnostic has exactly one primary location (CHECKS.md §1.5) and optional related locations. Lines and
columns are 1-based; columns count Unicode code points; ``end_column`` is exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ncdc.rules import rule
from ncdc.severity import Severity


@dataclass(frozen=True, slots=True)
class Related:
    path: str
    line: int
    column: int
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    message: str
    help: str | None = None
    related: tuple[Related, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> Severity:
        severity = rule(self.code).severity
        assert severity is not None, f"{self.code} is retired"
        return severity

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.column, self.code, self.message)


def matches(code: str, entries: tuple[str, ...] | list[str]) -> bool:
    """True when ``code`` equals or starts with one of ``entries`` (codes or prefixes)."""
    return any(code.startswith(entry) for entry in entries)


def select(
    diagnostics: list[Diagnostic],
    selected: list[str] | None = None,
    ignored: list[str] | None = None,
) -> list[Diagnostic]:
    """Apply ``--select`` then ``--ignore`` (CHECKS.md §1.1)."""
    result = diagnostics
    if selected:
        result = [d for d in result if matches(d.code, selected)]
    if ignored:
        result = [d for d in result if not matches(d.code, ignored)]
    return result


def count(diagnostics: list[Diagnostic]) -> dict[str, int]:
    """Counts by severity, keyed ``errors``/``warnings``/``infos`` (the JSON summary's keys)."""
    totals = {"errors": 0, "warnings": 0, "infos": 0}
    for diagnostic in diagnostics:
        totals[diagnostic.severity.value + "s"] += 1
    return totals
