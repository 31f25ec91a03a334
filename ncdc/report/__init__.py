"""Diagnostic output formats of ``ncdc check``/``compile`` (CHECKS.md §1.3–§1.4).

One module per format, each with ``render(diagnostics, sources, show_info)``; this package dispatches by
name so the CLI needs only ``render(fmt, ...)`` and ``summary_line(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ncdc.diagnostics import Diagnostic, count
from ncdc.report import full, github, json_format, sarif, text

FORMATS: tuple[str, ...] = ("text", "full", "json", "sarif", "github")

_RENDERERS: dict[str, Callable[[list[Diagnostic], Mapping[str, Sequence[str]], bool], str]] = {
    "text": text.render,
    "full": full.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
}

__all__ = ["FORMATS", "render", "summary_line"]


def render(
    fmt: str,
    diagnostics: list[Diagnostic],
    sources: Mapping[str, Sequence[str]],
    show_info: bool = False,
) -> str:
    """Render ``diagnostics`` (any order) in format ``fmt``; raises ValueError for an unknown format."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return renderer(list(diagnostics), sources, show_info)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(diagnostics: list[Diagnostic]) -> str:
    """``Found 2 errors, 1 warning, 3 infos.`` (for stderr), or ``No problems found.`` when empty."""
    if not diagnostics:
        return "No problems found."
    totals = count(list(diagnostics))
    return (
        f"Found {_plural(totals['errors'], 'error')}, {_plural(totals['warnings'], 'warning')}, "
        f"{_plural(totals['infos'], 'info')}."
    )
