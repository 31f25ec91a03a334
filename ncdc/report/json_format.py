"""The ``json`` format (CHECKS.md §1.4): one versioned document for tools.

Named ``json_format`` so that ``import json`` below can never pick this module up instead of the stdlib.
Infos are always included and the summary counts every diagnostic passed in: consumers filter themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ncdc.diagnostics import Diagnostic, count
from ncdc.report.text import ordered


def _entry(d: Diagnostic) -> dict[str, Any]:
    """One diagnostic, keys in the order the contract fixes."""
    return {
        "path": d.path,
        "line": d.line,
        "column": d.column,
        "end_line": d.end_line,
        "end_column": d.end_column,
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "help": d.help,
        "related": [
            {"path": r.path, "line": r.line, "column": r.column, "message": r.message} for r in d.related
        ],
    }


def document(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The document as Python data (also handy for tests and for ``compile -o -``)."""
    return {
        "version": 1,
        "diagnostics": [_entry(d) for d in ordered(diagnostics)],
        "summary": count(diagnostics),
    }


def render(
    diagnostics: list[Diagnostic],
    sources: Mapping[str, Sequence[str]] | None = None,
    show_info: bool = False,
) -> str:
    """The document, indented, UTF-8 kept as is, newline-terminated. ``show_info`` is ignored (infos always in)."""
    return json.dumps(document(diagnostics), ensure_ascii=False, indent=2) + "\n"
