"""``check``: the whole static analysis of one plan, from bytes to the final list of diagnostics.

Two layers (CHECKS.md §4): the parser layer (pre-pass, legacy screen, grammar, annotations, flow indices,
structure) and the check layer (the plan model and its rule families). Suppression runs last.
"""

from __future__ import annotations

from dataclasses import dataclass

from ncdc.checks import run_model_checks
from ncdc.checks.annotations import check_annotations
from ncdc.checks.operators import check_operators
from ncdc.checks.structure import check_structure
from ncdc.diagnostics import Diagnostic, select
from ncdc.flow import verify_explicit_indices
from ncdc.frontend import ParseResult, parse_plan
from ncdc.ir import Plan
from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter
from ncdc.suppress import apply_suppressions

__all__ = ["CheckOptions", "CheckResult", "check", "parser_layer", "check_layer"]


@dataclass(frozen=True)
class CheckResult:
    plan: Plan
    model: PlanModel
    diagnostics: list[Diagnostic]  # reported ones (after suppression and selection), sorted
    all_diagnostics: list[Diagnostic]  # before --select/--ignore (compile refuses on any error here)


def parser_layer(data: bytes | str, path: str) -> tuple[ParseResult, Reporter]:
    """Parse and run the IR rules (NCD1xx, NCD2xx, NCD910-NCD922)."""
    parsed = parse_plan(data, path)
    reporter = Reporter(path)
    reporter.diagnostics.extend(parsed.diagnostics)
    check_annotations(parsed.plan, reporter)
    verify_explicit_indices(parsed.plan.lines, reporter)
    check_structure(parsed.plan, parsed.failed_lines, reporter)
    check_operators(parsed.plan, parsed.failed_lines, reporter)
    return parsed, reporter


def check_layer(parsed: ParseResult, reporter: Reporter, options: CheckOptions) -> PlanModel:
    """Build the plan model and run the rule families on it (NCD3xx-NCD5xx, NCD923-NCD953)."""
    model = PlanModel(parsed.plan, parsed.failed_lines)
    run_model_checks(model, reporter, options)
    return model


def check(data: bytes | str, path: str = "<plan>", options: CheckOptions | None = None) -> CheckResult:
    options = options or CheckOptions()
    if path.endswith(".ncds"):
        return _draft_file(path, data, options)
    parsed, reporter = parser_layer(data, path)
    model = check_layer(parsed, reporter, options)
    suppression = Reporter(path)
    remaining = apply_suppressions(parsed.plan, reporter.diagnostics, suppression)
    remaining = sorted(remaining + suppression.diagnostics, key=lambda d: d.sort_key)
    reported = select(remaining, options.select, options.ignore)
    return CheckResult(parsed.plan, model, reported, remaining)


def _draft_file(path: str, data: bytes | str, options: CheckOptions) -> CheckResult:
    """A `.ncds` draft named explicitly: one NCD113 at 1:1, not parsed (FIDELITY §3.15) — its prose lines
    would otherwise give one NCD113/NCD111 per line without telling the user what the file is."""
    parsed = parse_plan("", path)
    reporter = Reporter(path)
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    first = text.split("\n", 1)[0].rstrip("\r")
    reporter.report(
        "NCD113",
        1,
        1,
        "`.ncds` drafts are not compiled; formalize to `.ncd`",
        end_column=max(2, len(first) + 1),
        help="write the plan as a `.ncd` file: markers `:<:`, `<=`, `<-` and concepts `{x}`, `[x]`, `<x>`",
    )
    remaining = sorted(reporter.diagnostics, key=lambda d: d.sort_key)
    model = PlanModel(parsed.plan, parsed.failed_lines)
    return CheckResult(parsed.plan, model, select(remaining, options.select, options.ignore), remaining)
