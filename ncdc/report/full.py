"""The ``full`` format (CHECKS.md §1.3): ``text`` plus a source excerpt, caret line, help and notes.

Columns count code points and nothing is expanded; the caret line copies tabs from the source line so that
carets stay aligned whatever the terminal's tab width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ncdc.diagnostics import Diagnostic
from ncdc.report.text import headline, shown


def _caret_line(source_line: str, diagnostic: Diagnostic) -> str:
    """Padding (tabs kept) up to the start column, then at least one ``^`` over the range on this line."""
    start = diagnostic.column - 1
    padding = "".join("\t" if ch == "\t" else " " for ch in source_line[:start])
    padding += " " * max(0, start - len(source_line))  # a column past the end of the line
    if diagnostic.end_line > diagnostic.line:
        width = len(source_line) - start
    else:
        width = diagnostic.end_column - diagnostic.column
    return padding + "^" * max(1, width)


def _block(diagnostic: Diagnostic, lines: Sequence[str] | None) -> str:
    """One diagnostic: headline, excerpt when the source line is known, then help and related notes."""
    gutter = " " * len(str(diagnostic.line))
    out = [headline(diagnostic)]
    if lines is not None and 1 <= diagnostic.line <= len(lines):
        source_line = lines[diagnostic.line - 1]
        out.append(f"{gutter} |")
        out.append(f"{diagnostic.line} |" + (f" {source_line}" if source_line else ""))
        out.append(f"{gutter} | {_caret_line(source_line, diagnostic)}")
    if diagnostic.help is not None:
        out.append(f"{gutter} = help: {diagnostic.help}")
    for related in diagnostic.related:
        out.append(f"{gutter} = note: {related.path}:{related.line}:{related.column}: {related.message}")
    return "\n".join(out)


def render(
    diagnostics: list[Diagnostic],
    sources: Mapping[str, Sequence[str]],
    show_info: bool = False,
) -> str:
    """Blocks separated by a blank line, newline-terminated; ``""`` when nothing is shown."""
    blocks = [_block(d, sources.get(d.path)) for d in shown(diagnostics, show_info)]
    return "\n\n".join(blocks) + "\n" if blocks else ""
