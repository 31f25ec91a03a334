"""Gate and context warnings of the dependency graph (CHECKS.md §3.6): NCD924 (a gate condition without a
``<*`` line), NCD925 (a context concept the operation never receives), NCD926 (an identification marker on a
``$+`` result, info) and NCD927 (a nested gate).

Each is one pass over the inferences, looking only at an inference's own lines.
"""

from __future__ import annotations

from ncdc.checks._common import operand
from ncdc.checks._graph_facts import GraphFacts, append_destination
from ncdc.ir import IdentificationMarker, Marker, Operator

# Sequences whose executors never receive context concepts (NCD925).
_CONTEXT_FREE_SEQUENCES = ("imperative_in_composition", "judgement_in_composition", "assigning", "grouping")


def check(facts: GraphFacts) -> None:
    """NCD924 and NCD927, then NCD925, then NCD926."""
    _gates(facts)
    _unused_contexts(facts)
    _append_markers(facts)


def _gates(facts: GraphFacts) -> None:
    """NCD927 for a gate on a timing line, NCD924 for a condition not declared under the gated line."""
    lines = facts.model.plan.lines
    for gate in facts.model.inferences:
        if gate.kind != "gate" or not gate.complete or not gate.values:
            continue
        condition = gate.values[0].name
        head = gate.cti_line
        timing = gate.function_line
        node = head.node
        if head.marker is Marker.FUNCTION and isinstance(node, Operator) and node.family == "timing":
            outer = operand(node, "%>")
            gated = lines[head.parent] if head.parent is not None else head
            facts.reporter.at(
                "NCD927",
                timing.span,
                f"nested gate: this gate on {condition} guards the timing line at line {head.line}"
                + (f" (on {outer.canonical_name})" if outer is not None else "")
                + f"; when it skips, that outer gate counts as passed and the operation at line {gated.line} "
                "runs unconditionally",
                help="combine the conditions in one judgement and gate the operation once",
                related=(facts.related(head, "the outer timing line"),),
            )
        children = [lines[i] for i in head.children]
        if any(c.marker is Marker.CONTEXT and c.concept is None for c in children):
            continue  # a context line failed to parse: it may be the declaration
        if any(c.marker is Marker.CONTEXT and c.concept.canonical_name == condition for c in children):  # type: ignore[union-attr]
            continue
        facts.reporter.at(
            "NCD924",
            timing.span,
            f"gate condition {condition} is not declared as a `<*` line under the gated line {head.line}",
            help=f"add `<* {condition}` as a child of line {head.line}, after the timing line",
        )


def _unused_contexts(facts: GraphFacts) -> None:
    """NCD925: the sequences in ``_CONTEXT_FREE_SEQUENCES`` never pass context concepts to their executor (a gate
    condition is exempt: the gate reads it)."""
    for inference in facts.model.inferences:
        if inference.kind != "ordinary" or not inference.complete or not inference.contexts:
            continue
        if inference.sequence not in _CONTEXT_FREE_SEQUENCES:
            continue
        gate = inference.gated_by
        condition = gate.values[0].name if gate is not None and gate.values else None
        kind = inference.sequence.split("_")[0]
        for use in inference.contexts:
            if use.name == condition:
                continue
            facts.reporter.at(
                "NCD925",
                use.line.span,
                f"context concept {use.name} is loaded but never passed to the {kind} operation that "
                f"computes {inference.cti}",
                help=f"make it an input (`<- {use.name}`) or remove the line",
            )


def _append_markers(facts: GraphFacts) -> None:
    """NCD926: the model keys a ``$+`` result by its destination, so a marker on it is only a label."""
    for inference in facts.model.inferences:
        if not inference.complete or append_destination(inference) is None:
            continue
        concept = inference.cti_line.concept
        assert concept is not None
        for marker in concept.suffixes_of(IdentificationMarker):
            facts.reporter.at(
                "NCD926",
                marker.span,
                f"the identification marker {marker.text} on the `$+` result {concept.core} is a label only: "
                f"the append happens in place on {concept.core}",
                help="nothing to fix; drop the marker if the label is not wanted",
            )
