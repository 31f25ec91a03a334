"""The ``github`` format (CHECKS.md §1.4): GitHub Actions workflow commands that annotate the PR diff.

Escaping follows the runner's rules so that a message or path can never end the command early or forge
another one: data escapes ``%``, CR, LF; property values also ``,`` and ``:``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ncdc.diagnostics import Diagnostic
from ncdc.report.text import shown
from ncdc.severity import Severity

COMMANDS: dict[Severity, str] = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message (``%`` first, so escapes are not escaped twice)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: as data, plus the ``,`` and ``:`` that delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(d: Diagnostic) -> str:
    """One workflow command line (without newline)."""
    properties = {
        "file": d.path.replace("\\", "/"),
        "line": str(d.line),
        "col": str(d.column),
        "endLine": str(d.end_line),
        "endColumn": str(d.end_column),
        "title": d.code,
    }
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{COMMANDS[d.severity]} {joined}::{escape_data(d.message)}"


def render(
    diagnostics: list[Diagnostic],
    sources: Mapping[str, Sequence[str]] | None = None,
    show_info: bool = False,
) -> str:
    """One newline-terminated command per shown diagnostic; infos only with ``show_info``."""
    return "".join(command(d) + "\n" for d in shown(diagnostics, show_info))
