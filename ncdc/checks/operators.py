"""Operator shapes: NCD212 (modifier missing, duplicated or not allowed) and NCD117 (malformed modifier
argument), from the operator table of LANGUAGE.md §4.3; NCD213 (``$+`` result vs destination)."""

from __future__ import annotations

import re

from ncdc.ir import ArgForm, ConceptLine, ConceptRef, IntegerItem, Marker, Modifier, Operator, Plan
from ncdc.source import Reporter

# operator → (required modifiers, other allowed modifiers)
SHAPES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "$=": (("%>",), frozenset()),
    "$%": (("%>",), frozenset({"%:"})),
    "$.": (("%>",), frozenset({"%<"})),
    "$+": (("%>", "%<"), frozenset({"%:"})),
    "$-": (("%>",), frozenset({"%:", "%^"})),
    "&[{}]": (("%>",), frozenset({"%+", "%-", "%^", "%:"})),
    "&[#]": (("%>",), frozenset({"%+", "%-", "%^", "%:"})),
    "@:'": (("%>",), frozenset()),
    "@:!": (("%>",), frozenset()),
    "@.": (("%>",), frozenset()),
    "*.": (("%>", "%<", "%:"), frozenset({"%@", "%^", "%+"})),
}
# (operator, modifier) slots that take exactly one concept reference.
_ONE_CONCEPT = {
    ("$=", "%>"),
    ("$.", "%>"),
    ("$+", "%>"),
    ("$+", "%<"),
    ("$-", "%>"),
    ("*.", "%>"),
    ("*.", "%<"),
    ("*.", "%:"),
    ("@:'", "%>"),
    ("@:!", "%>"),
    ("@.", "%>"),
}
_SELECTOR = re.compile(r"^<\$\*(-?\d+|#)>$|^<\$\((.+)\)%>$")
_NAME = re.compile(r"^\{?[^{}\[\]()<>,]+\}?$")


def check_operators(plan: Plan, failed: frozenset[int], reporter: Reporter) -> None:
    for line in plan.lines:
        if line.index in failed or not isinstance(line.node, Operator):
            continue
        _check_shape(line, line.node, reporter)
        if line.node.op == "$+":
            _check_append_result(plan, line, line.node, reporter)


def _check_shape(line: ConceptLine, operator: Operator, reporter: Reporter) -> None:
    required, allowed = SHAPES[operator.op]
    seen: set[str] = set()
    for modifier in operator.modifiers:
        if modifier.op in seen:
            reporter.at(
                "NCD212",
                modifier.span,
                f"modifier `{modifier.op}` is given twice for `{operator.op}`",
                help="each modifier appears at most once per operator",
            )
            continue
        seen.add(modifier.op)
        if modifier.op not in required and modifier.op not in allowed:
            allowed_text = ", ".join(f"`{m}`" for m in (*required, *sorted(allowed)))
            reporter.at(
                "NCD212",
                modifier.span,
                f"modifier `{modifier.op}` is not allowed for `{operator.op}` (allowed: {allowed_text})",
                help="remove it, or use the operator that takes it",
            )
            continue
        problem = _argument_problem(operator.op, modifier)
        if problem:
            reporter.at("NCD117", modifier.span, f"malformed argument of `{modifier.op}` for `{operator.op}`: {problem}")
    missing = [m for m in required if m not in seen]
    if missing:
        what = "condition" if operator.family == "timing" else ", ".join(f"`{m}`" for m in missing)
        reporter.report(
            "NCD212",
            line.payload_span.line,
            line.payload_span.column,
            f"`{operator.op}` is missing its required {what}",
            end_column=line.payload_span.column + len(operator.op),
            help=f"`{operator.op}` requires " + " ".join(f"{m}(...)" for m in required),
        )


def _argument_problem(op: str, modifier: Modifier) -> str | None:
    if (op, modifier.op) in _ONE_CONCEPT:
        if modifier.form is not ArgForm.SINGLE:
            return f"one concept is required, not `{modifier.argument}`"
        if len(modifier.items) != 1 or not isinstance(modifier.items[0], ConceptRef):
            return f"`{modifier.argument[1:-1].strip()}` is not a concept reference"
    if modifier.op == "%@":
        if modifier.form is not ArgForm.SINGLE or len(modifier.items) != 1:
            return "a positive integer is required"
        item = modifier.items[0]
        if not isinstance(item, IntegerItem) or item.value < 1:
            return f"`{modifier.argument[1:-1].strip()}` is not a positive integer"
    if modifier.op == "%-":
        if modifier.form is not ArgForm.LIST or any(not item.text.startswith("[") for item in modifier.items):
            return "a list of lists is required, e.g. `%-[[signal], [date]]`"
    if modifier.op == "%+":
        if modifier.form is not ArgForm.SINGLE or not _NAME.match(modifier.argument[1:-1].strip()):
            return "one axis name is required, e.g. `%+(signal)`"
    if op == "$-" and modifier.op == "%^":
        text = modifier.argument
        if modifier.form is ArgForm.SINGLE:
            text = text[1:-1].strip()
        if not _SELECTOR.match(text):
            return f"unknown selector `{text}` (use `<$*N>`, `<$*-1>`, `<$*#>` or `<$({{key}})%>`)"
    return None


def _check_append_result(plan: Plan, line: ConceptLine, operator: Operator, reporter: Reporter) -> None:
    """NCD213: the result line of a ``$+`` must name the destination's core (the append is in place)."""
    destination = operator.modifier("%>")
    if line.parent is None or destination is None or len(destination.items) != 1:
        return
    target = destination.items[0]
    result_line = plan.lines[line.parent]
    result = result_line.concept
    if result_line.marker is Marker.FUNCTION or result is None or not isinstance(target, ConceptRef):
        return
    if result.core != target.core:
        reporter.at(
            "NCD213",
            result_line.span,
            f"the result {result.core} of `$+` does not denote its destination {target.core}",
            help=f"name the result line `{target.core}` (optionally with `<$({{appended}})=>`)",
        )
