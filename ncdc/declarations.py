"""What single lines and annotations say, independently of the plan around them.

Free functions shared by the plan model (ncdc/plan.py), the check families, the compiler (emit, interpret,
schedule) and the runtime's loader: the sort key of flow indices, the canonical text of a functional concept,
the concept list of a list-valued annotation, ``%{ref_axes}`` values, and the ground declarations of a value
line (LANGUAGE.md §7.3, REPOSITORY_FORMAT.md §2.5). They live apart from ``PlanModel`` because none of them
needs the model; ``ncdc.plan`` re-exports them, so ``from ncdc.plan import parse_axes`` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ncdc.annotation_keys import PERCEPTION_KEYS, is_literal_key
from ncdc.ir import (
    Annotation,
    CommentKind,
    ConceptKind,
    ConceptLine,
    ConceptRef,
    Marker,
    Operator,
    Semantic,
    Span,
)

if TYPE_CHECKING:  # ncdc.parse imports the grammar; the annotation helpers import it lazily
    from ncdc.parse import ParseProblem


def flow_key(index: str) -> tuple[int, ...]:
    """``"1.10.2"`` → ``(1, 10, 2)``: flow indices order numerically part by part (``1.9`` before ``1.10``)."""
    return tuple(int(part) for part in index.split("."))


def functional_text(line: ConceptLine) -> str | None:
    """Canonical name of a functional concept (LANGUAGE.md §3.3): the payload, braced assertion unbraced."""
    node = line.node
    if isinstance(node, Semantic):
        norm = "{" + node.norm + "}" if node.norm is not None else ""
        assertion = node.assertion_gap + node.assertion.canonical_text if node.assertion else ""
        return f"{node.agent.text}{norm}({node.body}){assertion}"
    if isinstance(node, Operator):
        return line.payload
    return None


def annotation_concepts(annotation: Annotation) -> list[ConceptRef]:
    """The concept references of a list-valued annotation (``%{value_order}: [{a}, {b}]``), with source spans.

    An entry that cannot be parsed is left out; ``annotation_problems`` reports it (the annotation checks)."""
    return _annotation_items(annotation)[0]


def annotation_problems(annotation: Annotation) -> list[ParseProblem]:
    """Why entries of a list-valued annotation cannot be parsed; offsets are relative to ``value_span.column``."""
    return _annotation_items(annotation)[1]


def _annotation_items(annotation: Annotation) -> tuple[list[ConceptRef], list[ParseProblem]]:
    from ncdc.parse import ParseFailure, PayloadParser, split_top_level

    value = annotation.value
    span = annotation.value_span
    text, offset = value, 0
    stripped = value.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        offset = value.index("[") + 1
        text = value[offset : value.rindex("]")]
    parser = PayloadParser(span.line, span.column)
    refs: list[ConceptRef] = []
    problems: list[ParseProblem] = []
    for part, at in split_top_level(text):
        entry = part.strip()
        if not entry:
            continue
        lead = len(part) - len(part.lstrip())
        try:
            item = parser.item(entry, offset + at + lead)
        except ParseFailure as failure:
            problems.append(failure.problem)
            continue
        if isinstance(item, ConceptRef):
            refs.append(item)
    return refs, problems


def parse_axes(value: str) -> list[str]:
    """``[a, {b}]`` → ``["a", "b"]`` (R§2.7)."""
    inner = value.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    axes = []
    for part in inner.split(","):
        part = part.strip()
        if part.startswith("{") and part.endswith("}"):
            part = part[1:-1].strip()
        if part:
            axes.append(part)
    return axes


@dataclass(frozen=True, slots=True)
class DeclaredData:
    """The ground data a value line declares (R§2.5, first applicable rule of the table)."""

    kind: str  # "literal" or the perception-norm key (file_location, prompt_location, ...)
    value: object  # the literal value (None for `(runtime provided)`) or the path of a perception norm
    span: "Span"

    @property
    def reference_data(self) -> list[object] | None:
        """The ``reference_data`` the declaration gives the concept (R§2.5 table)."""
        if self.kind == "literal":
            return None if self.value is None else [self.value]
        from ncdc.ids import sign

        return [sign(self.kind, str(self.value))]


def declared_data(line: ConceptLine) -> DeclaredData | None:
    """Literal name, then ``%{literal_value}``, then ``%{literal<$% NAME>}``, then a perception key."""
    import json

    concept = line.concept
    if concept is not None and concept.kind is ConceptKind.OBJECT and concept.literal is not None:
        return DeclaredData("literal", concept.literal, concept.span)
    annotations = [a for a in line.annotations if a.sigil == "%"]
    for annotation in annotations:
        if annotation.key == "literal_value":
            value = annotation.value.strip()
            try:
                return DeclaredData("literal", json.loads(value), annotation.span)
            except ValueError:
                return DeclaredData("literal", value, annotation.span)
    for annotation in annotations:
        if is_literal_key(annotation.key):
            value = annotation.value.strip()
            return DeclaredData("literal", None if value == "(runtime provided)" else value, annotation.span)
    for annotation in annotations:
        if annotation.key in PERCEPTION_KEYS:
            return DeclaredData(annotation.key, annotation.value.strip(), annotation.span)
    return None


def ground_declaration(line: ConceptLine) -> str | None:
    """The kind of ground declaration on a value line (L§7.3), or None: ``literal``, a perception key,
    ``literal_value``, ``is_ground``, ``comment``, ``input`` (a ``:>:`` line)."""
    if line.marker is Marker.FUNCTION:
        return None
    concept = line.concept
    if concept is not None and concept.kind is ConceptKind.OBJECT and concept.literal is not None:
        return "literal"
    for annotation in line.annotations:
        if annotation.sigil != "%":
            continue
        if annotation.key in PERCEPTION_KEYS:
            return annotation.key
        if is_literal_key(annotation.key) or annotation.key == "literal_value":
            return "literal"
        if annotation.key == "is_ground" and annotation.value.strip().lower() == "true":
            return "is_ground"
    if any(c.kind is CommentKind.DESCRIPTION and c.text.startswith("Ground:") for c in line.comments):
        return "comment"
    if line.tail_description is not None and line.tail_description.startswith("Ground:"):
        return "comment"
    if line.marker is Marker.INPUT:
        return "input"
    return None
