"""Operator shapes: NCD212 (modifier missing, duplicated or not allowed) and NCD117 (malformed modifier
argument), from the operator table of LANGUAGE.md §4.3. (NCD213 is retired: a ``$+`` result named otherwise than
its destination is the functional form, FIDELITY §3.3.)"""

from __future__ import annotations

import re

from ncdc.ir import ArgForm, ConceptLine, ConceptRef, IntegerItem, Marker, Modifier, Operator, Plan
from ncdc.source import Reporter

# operator → (required modifiers, other allowed modifiers)
SHAPES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "$=": (("%>",), frozenset()),
    "$%": (("%>",), frozenset({"%:"})),
    "$.": ((), frozenset({"%>", "%<"})),  # FIDELITY §3.1: without both, the value children are the candidates
    "$+": (("%>", "%<"), frozenset({"%:"})),
    # FIDELITY §3.10: `%@(N)`, `%<({cti})` and a missing `%>` (one value child) are rewritten by the front end
    # (ncdc/spellings.py, NCD917); a `%<`/`%@` still here is one the amendment does not accept (NCD212).
    "$-": (("%>",), frozenset({"%:", "%^"})),
    # FIDELITY §3.2: a bare grouping groups its value children
    "&[{}]": ((), frozenset({"%>", "%+", "%-", "%^", "%:"})),
    "&[#]": ((), frozenset({"%>", "%+", "%-", "%^", "%:"})),
    "@:'": (("%>",), frozenset()),
    "@:!": (("%>",), frozenset()),
    "@.": (("%>",), frozenset()),
    # FIDELITY §2: `%:` (the loop axis) and `%<` (default: the body `$.`'s operand) are optional
    "*.": (("%>",), frozenset({"%<", "%:", "%@", "%^", "%+"})),
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
    ("@:'", "%>"),
    ("@:!", "%>"),
    ("@.", "%>"),
}
_SELECTOR = re.compile(r"^<\$\*(-?\d+|#)>$|^<\$\((.+)\)%>$")
_NAME = re.compile(r"^\{?[^{}\[\]()<>,]+\}?$")
_LOOP_AXIS = re.compile(r"^\{?[^{}\[\]()<>,]+\}?(\*-?\d+)*$")  # an axis name; loop-version suffixes are dropped


def check_operators(plan: Plan, failed: frozenset[int], reporter: Reporter) -> None:
    for line in plan.lines:
        if line.index in failed or not isinstance(line.node, Operator):
            continue
        _check_shape(plan, line, line.node, reporter)


def _check_shape(plan: Plan, line: ConceptLine, operator: Operator, reporter: Reporter) -> None:
    required, allowed = SHAPES[operator.op]
    if operator.op == "$-" and operator.modifier("%>") is None and _value_children(plan, line) == 1:
        required = ()  # FIDELITY §3.10: the single value child is the source
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
            help_text = "remove it, or use the operator that takes it"
            current = ""
            if operator.op == "$+" and modifier.op == "%^":
                # FIDELITY §3.3: `$+ %<(X) %^(Y*-1)` names the item as a carried value of the result itself
                current = "; the current form is `$+ %>({destination}) %<({item}) %:({axis})`"
                help_text = "name the destination with `%>` and the item with `%<`; carry a value with the loop's `%^`"
            reporter.at(
                "NCD212",
                modifier.span,
                f"modifier `{modifier.op}` is not allowed for `{operator.op}` (allowed: {allowed_text}){current}",
                help=help_text,
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


def _value_children(plan: Plan, line: ConceptLine) -> int:
    """How many `<-` children the inference of the functional ``line`` has."""
    if line.parent is None:
        return 0
    return sum(1 for child in plan.children(plan.lines[line.parent]) if child.marker is Marker.VALUE)


def _argument_problem(op: str, modifier: Modifier) -> str | None:
    if op == "*." and modifier.op == "%:":
        # FIDELITY §2: the loop axis, an axis name with optional braces (`%:({document})` ≡ `%:(document)`)
        if modifier.form is not ArgForm.SINGLE or not _LOOP_AXIS.match(modifier.argument[1:-1].strip()):
            return "one axis name is required, e.g. `%:(document)`"
        return None
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
