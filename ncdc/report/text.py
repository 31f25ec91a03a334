"""The default ``text`` format (CHECKS.md §1.3): one ``path:line:col: CODE message`` line per diagnostic.

Also home of the ordering and info-filtering helpers shared by the human-oriented formats, so that every
format agrees on what is shown and in which order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ncdc.diagnostics import Diagnostic
from ncdc.severity import Severity


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in the contract's order (path, line, column, code, message); input may be unsorted."""
    return sorted(diagnostics, key=lambda diagnostic: diagnostic.sort_key)


def shown(diagnostics: Iterable[Diagnostic], show_info: bool) -> list[Diagnostic]:
    """Sorted diagnostics minus infos unless ``--show-info``: infos are opt-in in text, full and github."""
    return [d for d in ordered(diagnostics) if show_info or d.severity is not Severity.INFO]


def headline(diagnostic: Diagnostic) -> str:
    """``path:line:col: CODE message`` — the first line of both ``text`` and ``full``."""
    d = diagnostic
    return f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}"


def render(
    diagnostics: list[Diagnostic],
    sources: Mapping[str, Sequence[str]] | None = None,
    show_info: bool = False,
) -> str:
    """One newline-terminated line per shown diagnostic; ``""`` when nothing is shown. ``sources`` is unused."""
    return "".join(headline(d) + "\n" for d in shown(diagnostics, show_info))
