"""``check``: the whole static analysis of one plan, from bytes to the final list of diagnostics."""

from __future__ import annotations

from dataclasses import dataclass

from ncdc.checks import run_model_checks
from ncdc.checks.annotations import check_annotations
from ncdc.checks.operators import check_operators
from ncdc.checks.structure import check_structure
from ncdc.diagnostics import Diagnostic, select
from ncdc.flow import verify_explicit_indices
from ncdc.frontend import parse_plan
from ncdc.ir import Plan
from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter
from ncdc.suppress import apply_suppressions

__all__ = ["CheckOptions", "CheckResult", "check"]


@dataclass(frozen=True)
class CheckResult:
    plan: Plan
    model: PlanModel
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
    model = PlanModel(plan, parsed.failed_lines)
    run_model_checks(model, reporter, options)
    suppression = Reporter(path)
    remaining = apply_suppressions(plan, reporter.diagnostics, suppression)
    remaining = sorted(remaining + suppression.diagnostics, key=lambda d: d.sort_key)
    reported = select(remaining, options.select, options.ignore)
    return CheckResult(plan, model, reported, remaining)
