"""Inline suppression (CHECKS.md §1.6): ``?{ncdc}: ignore[...]`` on a line and ``ignore-file[...]`` in the
file header. Applied last; produces NCD990 (unused entry) and NCD991 (invalid entry)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncdc.checks.annotations import SUPPRESSION
from ncdc.diagnostics import Diagnostic
from ncdc.ir import Annotation, Plan
from ncdc.rules import RULES, is_known_code_or_prefix
from ncdc.source import Reporter


@dataclass
class _Entry:
    code: str
    line: int
    column: int
    lines: frozenset[int] | None  # physical lines covered; None = the whole file
    used: bool = field(default=False)


def _entries(annotation: Annotation, lines: frozenset[int] | None, kind: str) -> list[_Entry]:
    match = SUPPRESSION.match(annotation.value.strip())
    if match is None or match.group("kind") != kind:
        return []  # NCD116 reported by the annotation rules
    codes_start = annotation.value_span.column + annotation.value.index("[") + 1
    entries = []
    offset = 0
    for part in match.group("codes").split(","):
        code = part.strip()
        if code:
            entries.append(_Entry(code, annotation.span.line, codes_start + offset + part.index(code), lines))
        offset += len(part) + 1
    return entries


def apply_suppressions(plan: Plan, diagnostics: list[Diagnostic], reporter: Reporter) -> list[Diagnostic]:
    """Remove suppressed diagnostics; report invalid and unused entries through ``reporter``."""
    entries: list[_Entry] = []
    for annotation in plan.header_annotations:
        if annotation.sigil == "?" and annotation.key == "ncdc":
            entries.extend(_entries(annotation, None, "ignore-file"))
    for line in plan.lines:
        suppressions = [a for a in line.annotations if a.sigil == "?" and a.key == "ncdc"]
        if not suppressions:
            continue
        covered = set(range(line.span.line, line.span.end_line + 1))
        for annotation in line.annotations:
            covered.update(range(annotation.span.line, annotation.span.end_line + 1))
        covered.update(comment.span.line for comment in line.comments)
        for annotation in suppressions:
            entries.extend(_entries(annotation, frozenset(covered), "ignore"))
    valid: list[_Entry] = []
    for entry in entries:
        if entry.code.startswith("NCD9") and is_known_code_or_prefix(entry.code):
            valid.append(entry)
        else:
            reporter.report(
                "NCD991",
                entry.line,
                entry.column,
                _invalid_reason(entry.code),
                end_column=entry.column + len(entry.code),
                help="fix the plan, or use `--ignore` with `ncdc check`",
            )
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        suppressed = False
        for entry in valid:
            if diagnostic.code.startswith(entry.code) and (entry.lines is None or diagnostic.line in entry.lines):
                entry.used = True
                suppressed = True
        if not suppressed:
            kept.append(diagnostic)
    for entry in valid:
        if not entry.used:
            reporter.report(
                "NCD990",
                entry.line,
                entry.column,
                f"unused suppression `{entry.code}`: nothing was suppressed",
                end_column=entry.column + len(entry.code),
                help="remove the entry",
            )
    return kept


def _invalid_reason(code: str) -> str:
    """Why a suppression entry is invalid; a retired code names what replaced it (FIDELITY §7)."""
    retired = RULES.get(code)
    if retired is not None and retired.severity is None:
        replaced = f" (now: {retired.replaced_by})" if retired.replaced_by else ""
        return f"invalid suppression `{code}`: the code is retired and never reported{replaced}"
    if is_known_code_or_prefix(code):
        return f"invalid suppression `{code}`: only warnings and infos (NCD9xx) can be suppressed"
    return f"invalid suppression `{code}`: unknown code"
