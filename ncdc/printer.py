"""Re-printing a plan from its IR (the round-trip printer).

The output is normalised layout — four spaces per depth, annotation and comment lines directly under their
owner, continuation lines joined — and parses back to an equal IR (spans and line numbers excluded). Tests
use this to show that the IR keeps everything a plan says.
"""

from __future__ import annotations

from ncdc.ir import (
    Annotation,
    ConceptLine,
    ConceptRef,
    Operator,
    Payload,
    Plan,
    RootPayload,
    Semantic,
)


def payload_text(node: Payload) -> str:
    """The payload of a concept line, rebuilt from its IR node."""
    if isinstance(node, ConceptRef):
        return node.source_text()
    if isinstance(node, RootPayload):
        inner = node.concept.source_text()
        if not node.wrapped:
            return inner
        return "(" + inner + ")" + "".join(s.text for s in node.outer_suffixes)
    if isinstance(node, (Semantic, Operator)):
        return node.text
    raise TypeError(f"not a payload node: {type(node).__name__}")


def annotation_text(annotation: Annotation) -> str:
    return f"| {annotation.sigil}{{{annotation.key}}}: {annotation.value}".rstrip()


def print_line(line: ConceptLine) -> list[str]:
    """The physical lines of one concept line: the line itself, then its annotation and comment lines."""
    indent = "    " * line.depth
    if line.node is None:
        # A line that did not compile is kept verbatim (tail included), so it fails again the same way.
        text = indent + line.source.lstrip(" \t")
    else:
        text = f"{indent}{line.marker.value} {payload_text(line.node)}"
        for annotation in line.annotations:
            if annotation.in_tail:
                text += " " + annotation_text(annotation)
        if line.tail_description is not None:
            text += f" /: {line.tail_description}".rstrip()
    out = [text]
    owned = indent + "    "
    out.extend(owned + annotation_text(a) for a in line.annotations if not a.in_tail)
    out.extend(f"{owned}{comment.kind.value} {comment.text}".rstrip() for comment in line.comments)
    return out


def print_plan(plan: Plan) -> str:
    out = [annotation_text(a) for a in plan.header_annotations]
    for line in plan.lines:
        out.extend(print_line(line))
    return "\n".join(out) + "\n"
