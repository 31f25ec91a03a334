"""Operand and declaration rules of the dependency graph (CHECKS.md §3.3, FIDELITY §4): NCD935 (an operand not
declared as a sibling line, added as an implicit input; it replaces the retired NCD302), NCD303 (a ground concept
also produced), NCD304 (conflicting axes or ground data for one concept) and NCD305 (one functional text with
conflicting executor annotations).

Each rule is one pass over the inferences, the producers or the lines naming each concept. NCD935 also records
the inferences whose operands name nothing in the plan (``GraphFacts.undeclared``) for the usage warnings.
"""

from __future__ import annotations

import json
import re

from ncdc.annotation_keys import is_literal_key
from ncdc.checks._graph_facts import GraphFacts, append_destination
from ncdc.ir import CommentKind, ConceptLine, ConceptRef, Operator, Span
from ncdc.declarations import annotation_concepts, declared_data, ground_declaration, parse_axes

_EXECUTOR_KEYS = ("v_input_provision", "norm_input", "python", "v_function_name", "prompt")


def check(facts: GraphFacts) -> None:
    """NCD935, NCD303, NCD304, NCD305, in that order."""
    _operands(facts)
    _ground_produced(facts)
    _conflicting_declarations(facts)
    _conflicting_executors(facts)


def _operands(facts: GraphFacts) -> None:
    """NCD935 (FIDELITY §4; NCD302 is retired): an operand of an assigning or grouping operator, or a
    `%{value_order}` / `%{assign_sources}` entry, that no sibling line declares. The plan model has already added
    it to the inference's value concepts (``Inference.implicit``), so the operation waits for it."""
    for inference in facts.model.inferences:
        if inference.kind != "ordinary" or not inference.complete or not inference.implicit:
            continue
        node = inference.functional
        for use in inference.implicit:
            ref = use.concept
            name = use.name
            if not facts.produced(name) and name not in facts.model.lines_naming:
                facts.undeclared.add(inference.flow_index)  # names nothing known: what it reads is unknown
            role = _role(inference, node, ref)
            facts.reporter.at(
                "NCD935",
                ref.span,
                f"operand {name} {role} is not declared as a sibling line of the operation that computes "
                f"{inference.cti} (line {inference.source_line}); it is added as an implicit input",
                help=f"declare it: add `<- {name}` as a child of line {inference.source_line} (tools that read "
                "only declared lines would run the operation without it)",
            )


def _role(inference, node: object, ref: ConceptRef) -> str:
    """Where the operand is written: ``(`%>` of `$.`)``, ``(`&[{}]` source)``, ``(`%{value_order}` entry)``."""
    if isinstance(node, Operator):
        for modifier in node.modifiers:
            if any(item is ref for item in modifier.items):
                if node.family == "grouping":
                    return f"(`{node.op}` source)"
                return f"(`{modifier.op}` of `{node.op}`)"
    for key in ("value_order", "assign_sources"):
        annotation = inference.function_line.annotation(key)
        if annotation is not None and any(entry.canonical_name == ref.canonical_name for entry in annotation_concepts(annotation)):
            return f"(`%{{{key}}}` entry)"
    return ""


def _ground_produced(facts: GraphFacts) -> None:
    """NCD303, once per concept, at its first ground declaration."""
    for name, producers in facts.producers.items():
        if not facts.ground_declared(name):
            continue
        if all(append_destination(p) is not None for p in producers):
            continue  # declared data is the initial value of a `$+` accumulation
        for line in facts.model.lines_naming.get(name, ()):
            kind = ground_declaration(line)
            if kind is None:
                continue
            producer = next(p for p in producers if append_destination(p) is None)
            facts.reporter.at(
                "NCD303",
                _declaration_span(line, kind),
                f"{name} is declared ground here but is also computed by the inference at line "
                f"{producer.source_line}; consumers would read the declared data, never the computed value",
                help="remove the ground declaration, or give the computed value a different name",
                related=(facts.related(producer.cti_line, f"{name} is produced here"),),
            )
            break


def _conflicting_declarations(facts: GraphFacts) -> None:
    """NCD304: every later `%{ref_axes}` or ground-data declaration of a concept against its first one."""
    for name, lines in facts.model.lines_naming.items():
        if len(lines) < 2:
            continue
        first_axes: tuple[list[str], ConceptLine] | None = None
        first_data: tuple[tuple[str, object], ConceptLine] | None = None
        for line in lines:
            annotation = line.annotation("ref_axes")
            if annotation is not None:
                axes = parse_axes(annotation.value)
                if first_axes is None:
                    first_axes = (axes, line)
                elif axes != first_axes[0]:
                    facts.reporter.at(
                        "NCD304",
                        annotation.span,
                        f"{name} is declared with axes [{', '.join(axes)}] here but with "
                        f"[{', '.join(first_axes[0])}] at line {first_axes[1].line}",
                        help="declare the axes identically on every line, or only once",
                        related=(facts.related(first_axes[1], f"first axes declaration of {name}"),),
                    )
            data = declared_data(line) if line.annotations or '"' in name else None
            if data is not None:
                kind, value, span = data.kind, data.value, data.span
                if first_data is None:
                    first_data = ((kind, value), line)
                elif (kind, value) != first_data[0]:
                    facts.reporter.at(
                        "NCD304",
                        span,
                        f"{name} is declared with ground data {_show(value)} here but with "
                        f"{_show(first_data[0][1])} at line {first_data[1].line}",
                        help="give the concept one ground declaration (or make them identical)",
                        related=(facts.related(first_data[1], f"first data declaration of {name}"),),
                    )


def _conflicting_executors(facts: GraphFacts) -> None:
    """NCD305: every later occurrence of a functional text against its first one."""
    for text, lines in facts.model.function_lines.items():
        if len(lines) < 2:
            continue
        first = lines[0]
        expected = _executor_signature(first)
        for line in lines[1:]:
            found = _executor_signature(line)
            keys = [key for key in _EXECUTOR_KEYS if found[key] != expected[key]]
            if not keys:
                continue
            which = ", ".join(f"%{{{key}}}" for key in keys)
            facts.reporter.at(
                "NCD305",
                line.span,
                f"the functional concept {text} also occurs at line {first.line} with a different {which}; the "
                "repository keeps one entry per functional text, so one of them would run with the other's "
                "prompt or script",
                help="word the two operations differently, or give them identical executor annotations",
                related=(facts.related(first, f"first occurrence of {text}"),),
            )


def _declaration_span(line: ConceptLine, kind: str) -> Span:
    """Where a ground declaration of ``line`` is written (for NCD303)."""
    if kind == "literal":
        for annotation in line.annotations:
            if annotation.sigil == "%" and (is_literal_key(annotation.key) or annotation.key == "literal_value"):
                return annotation.span
        concept = line.concept
        return concept.span if concept is not None else line.span
    if kind in ("comment", "input"):
        if kind == "comment":
            for comment in line.comments:
                if comment.kind is CommentKind.DESCRIPTION and comment.text.startswith("Ground:"):
                    return comment.span
        return line.span
    annotation = line.annotation(kind)
    return annotation.span if annotation is not None else line.span


def _show(value: object) -> str:
    """Ground data as NCD304 shows it: JSON, or ``(runtime provided)``."""
    if value is None:
        return "(runtime provided)"
    return json.dumps(value, ensure_ascii=False)


def _paradigm(value: str) -> str:
    """The paradigm name of a ``%{norm_input}`` value, without its arguments."""
    match = re.match(r"^[^\s(]+", value.strip())
    return match.group(0) if match else value.strip()


def _executor_signature(line: ConceptLine) -> dict[str, object]:
    """The executor annotations of a functional line, normalised so that equal executors compare equal (NCD305)."""
    signature: dict[str, object] = {}
    for key in _EXECUTOR_KEYS:
        annotation = line.annotation(key)
        if key == "norm_input" and annotation is None:
            annotation = line.annotation("paradigm")
        if annotation is None:
            signature[key] = None
        elif key == "v_input_provision":
            signature[key] = tuple(p for p in annotation.value.replace(",", " ").split() if p)
        elif key == "norm_input":
            signature[key] = _paradigm(annotation.value)
        else:
            signature[key] = annotation.value.strip()
    return signature
