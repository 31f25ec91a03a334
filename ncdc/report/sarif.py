"""The ``sarif`` format (CHECKS.md §1.4): SARIF 2.1.0 with one run, for code-scanning uploads.

The driver lists every non-retired code of the catalogue (not only the reported ones) so that ``ruleIndex``
is stable across runs and viewers can show titles for any result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ncdc.diagnostics import Diagnostic
from ncdc.report.text import ordered
from ncdc.rules import RULES, Rule
from ncdc.severity import Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS: dict[Severity, str] = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _version() -> str:
    """``ncdc.__version__`` when available; imported lazily because the package root may be in flux."""
    try:
        from ncdc import __version__  # type: ignore[attr-defined]
    except ImportError:
        return "0"
    return str(__version__)


def active_rules() -> list[Rule]:
    """Catalogue rules that can be reported (retired codes have no severity), in catalogue order."""
    return [r for r in RULES.values() if r.severity is not None]


def _rule(r: Rule) -> dict[str, Any]:
    assert r.severity is not None
    return {
        "id": r.code,
        "name": r.code,
        "shortDescription": {"text": r.title},
        "defaultConfiguration": {"level": LEVELS[r.severity]},
    }


def _uri(path: str) -> str:
    """The path as given, with ``/`` separators (SARIF URIs never use backslashes)."""
    return path.replace("\\", "/")


def _result(d: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": d.code,
        "ruleIndex": index[d.code],
        "level": LEVELS[d.severity],
        "message": {"text": d.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(d.path)},
                    "region": {
                        "startLine": d.line,
                        "startColumn": d.column,
                        "endLine": d.end_line,
                        "endColumn": d.end_column,
                    },
                }
            }
        ],
    }
    if d.related:
        result["relatedLocations"] = [
            {
                "id": i,
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(r.path)},
                    "region": {"startLine": r.line, "startColumn": r.column},
                },
                "message": {"text": r.message},
            }
            for i, r in enumerate(d.related)
        ]
    return result


def document(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The SARIF log as Python data; infos always included (as ``note``)."""
    rules = active_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "ncdc", "version": _version(), "rules": [_rule(r) for r in rules]}},
                "columnKind": "unicodeCodePoints",
                "results": [_result(d, index) for d in ordered(diagnostics)],
            }
        ],
    }


def render(
    diagnostics: list[Diagnostic],
    sources: Mapping[str, Sequence[str]] | None = None,
    show_info: bool = False,
) -> str:
    """The SARIF log, indented, newline-terminated. ``show_info`` is ignored (infos always in)."""
    return json.dumps(document(diagnostics), ensure_ascii=False, indent=2) + "\n"
