"""Structure rules (LANGUAGE.md §5, CHECKS.md §3.2): NCD201-NCD208, NCD920 and NCD922.

After a line fails to parse, it stays in the tree (its marker and depth still count), but rules that need
its payload skip it, so one mistake gives one diagnostic (CHECKS.md §1.5).
"""

from __future__ import annotations

from ncdc.annotation_keys import SEQUENCE_WORDS
from ncdc.ir import ConceptLine, ConceptRef, Marker, Operator, Plan, Semantic
from ncdc.source import Reporter

_VALUE_MARKERS = (Marker.ROOT, Marker.INPUT, Marker.VALUE, Marker.CONTEXT)


def family(line: ConceptLine) -> str | None:
    """The sequence family of a functional line's operation (None for other lines and failed payloads)."""
    node = line.node
    if isinstance(node, (Semantic, Operator)):
        return node.family
    return None


def is_timing(line: ConceptLine) -> bool:
    return line.marker is Marker.FUNCTION and (
        family(line) == "timing" or (line.node is None and line.payload.startswith("@"))
    )


def check_structure(plan: Plan, failed: frozenset[int], reporter: Reporter) -> None:
    if not plan.lines:
        reporter.report("NCD201", 1, 1, "empty plan: the file has no concept line", help="add a `:<:` root with an inference")
        return
    roots = [line for line in plan.lines if line.depth == 0]
    for position, line in enumerate(roots):
        if line.marker is Marker.FUNCTION:
            reporter.at("NCD203", line.span, "functional concept `<=` without a parent", help="place it under the concept it computes")
            continue
        if position > 0:
            reporter.at(
                "NCD202",
                line.span,
                f"second root: the plan already has its root at line {roots[0].line}",
                help="a plan has one root; nest everything under it",
            )
        if line.marker is not Marker.ROOT:
            reporter.at(
                "NCD920",
                line.span,
                f"root written with `{line.marker.value}`; it is treated as `:<:`",
                help="write the root as `:<:{result}`",
            )
    for line in plan.lines:
        if line.marker is Marker.ROOT and line.depth > 0:
            reporter.at("NCD203", line.span, "`:<:` marks the plan's root and is only allowed at depth 0", help="use `<-` for nested values")
        if line.children:
            if line.marker in _VALUE_MARKERS:
                _check_inference(plan, line, reporter)
            else:
                _check_functional_children(plan, line, failed, reporter)
        _check_sequence_tags(plan, line, failed, reporter)


def _check_inference(plan: Plan, line: ConceptLine, reporter: Reporter) -> None:
    children = plan.children(line)
    functions = [c for c in children if c.marker is Marker.FUNCTION]
    if not functions:
        reporter.at(
            "NCD204",
            line.span,
            "inference without a functional concept: this line has children but no `<=` child",
            help="add the operation as the first child, e.g. `<= ::(summarize {1})`",
        )
        return
    function = functions[0]
    if children[0] is not function:
        reporter.at(
            "NCD206",
            function.span,
            f"the functional concept must be the first child of line {line.line}",
            help="move the `<=` line first",
        )
    for extra in functions[1:]:
        reporter.at(
            "NCD205",
            extra.span,
            f"second functional concept of the inference at line {line.line}; an inference has one operation",
            help="nest a gate under the functional line it guards, or split into two inferences",
        )
    if is_timing(function):
        # NCD207 is retired. The front end rewrites a timing function into a gated `$.` selection (FIDELITY §3.11,
        # NCD928); a timing line still here could not be rewritten (no single condition: NCD212 says so; or
        # children of its own), so nothing would produce this concept: an error, not a silent empty value.
        if not _single_condition(function):
            return
        cti = line.concept.canonical_name if line.concept is not None else "{v}"
        reporter.at(
            "NCD130",
            function.span,
            f"the timing operator `{function.payload}` as the function of {cti} has children of its own, so it "
            "cannot be compiled as a gated selection (NCD928): nothing would produce this concept",
            help=f"write `<= $. %>({cti})` with `{function.payload}` nested under it and the condition as a `<*` line",
        )


def _check_functional_children(plan: Plan, line: ConceptLine, failed: frozenset[int], reporter: Reporter) -> None:
    if line.index in failed:
        return
    children = plan.children(line)
    first = children[0]
    if first.marker is Marker.FUNCTION and is_timing(first):
        condition = _condition_name(first)
        if condition is None:
            return
        for child in children[1:]:
            concept = child.concept
            if child.marker in (Marker.CONTEXT, Marker.VALUE) and (concept is None or concept.canonical_name == condition):
                continue
            reporter.at(
                "NCD208",
                child.span,
                f"a gated functional line may only have its timing line and lines naming the condition {condition} as children",
                help="move this line under the concept line the operation belongs to",
            )
        return
    if isinstance(line.node, Operator) and line.node.op == "*.":
        return  # loop shape: NCD501 (loops family)
    reporter.at(
        "NCD208",
        line.span,
        "functional line with unexpected children: it heads neither a gate nor a loop",
        help="move the children under the concept line the operation belongs to",
    )


def _condition_name(timing: ConceptLine) -> str | None:
    node = timing.node
    if not isinstance(node, Operator):
        return None
    modifier = node.modifier("%>")
    if modifier is None or len(modifier.items) != 1:
        return None
    item = modifier.items[0]
    return getattr(item, "canonical_name", None)


def _check_sequence_tags(plan: Plan, line: ConceptLine, failed: frozenset[int], reporter: Reporter) -> None:
    tag = line.annotation("sequence", "?")
    if tag is None:
        return
    word = SEQUENCE_WORDS.get(tag.value.strip().lower())
    if word is None:
        return  # NCD116 (annotation rules)
    allowed: set[str] = set()
    unknown = False
    if line.marker is Marker.FUNCTION:
        own = family(line)
        unknown |= own is None
        if own:
            allowed.add(own)
    if line.children:
        first = plan.lines[line.children[0]]
        if first.marker is Marker.FUNCTION:
            head = family(first)
            unknown |= head is None
            if head:
                allowed.add(head)
    if line.index in failed or (unknown and not allowed):
        return
    if word not in allowed:
        what = " or ".join(sorted(allowed)) if allowed else "nothing: the line heads no inference"
        reporter.at(
            "NCD922",
            tag.span,
            f"`?{{sequence}}: {tag.value.strip()}` differs from the operator syntax, which gives {what}",
            help="correct the tag or delete it; the sequence is always derived from the operator",
        )


def _single_condition(timing: ConceptLine) -> bool:
    """Whether a timing line names exactly one condition concept."""
    node = timing.node
    modifier = node.modifier("%>") if isinstance(node, Operator) else None
    return modifier is not None and len(modifier.items) == 1 and isinstance(modifier.items[0], ConceptRef)
