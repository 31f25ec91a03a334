"""``check``: the whole static analysis of one plan, from bytes to the final list of diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncdc.checks.annotations import check_annotations
from ncdc.checks.operators import check_operators
from ncdc.checks.structure import check_structure
from ncdc.diagnostics import Diagnostic, select
from ncdc.flow import verify_explicit_indices
from ncdc.frontend import parse_plan
from ncdc.ir import Plan
from ncdc.source import Reporter
from ncdc.suppress import apply_suppressions


@dataclass(frozen=True)
class CheckOptions:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckResult:
    plan: Plan
    diagnostics: list[Diagnostic]  # reported ones (after suppression and selection), sorted
    all_diagnostics: list[Diagnostic]  # before --select/--ignore (compile refuses on any error here)


def check(data: bytes | str, path: str = "<plan>", options: CheckOptions | None = None) -> CheckResult:
    options = options or CheckOptions()
    parsed = parse_plan(data, path)
    reporter = Reporter(path)
    reporter.diagnostics.extend(parsed.diagnostics)
    plan = parsed.plan
    check_annotations(plan, reporter)
    verify_explicit_indices(plan.lines, reporter)
    check_structure(plan, parsed.failed_lines, reporter)
    check_operators(plan, parsed.failed_lines, reporter)
    suppression = Reporter(path)
    remaining = apply_suppressions(plan, reporter.diagnostics, suppression)
    remaining = sorted(remaining + suppression.diagnostics, key=lambda d: d.sort_key)
    reported = select(remaining, options.select, options.ignore)
    return CheckResult(plan, reported, remaining)
