"""Gate typing (CHECKS.md §3.4): NCD401 (a gate condition that is not a proposition), NCD402 (a condition not
produced by a judgement, or ground data that is no truth value) and NCD403 (a gated functional text that also
occurs ungated: a skip of the gate skips both).

NCD401/NCD402 look at one gate at a time; NCD403 runs once at the end over the gates collected on the way.
"""

from __future__ import annotations

import json
import re

from ncdc.annotation_keys import PERCEPTION_KEYS, is_literal_key
from ncdc.checks._typing_facts import KIND_WORD, TypingFacts
from ncdc.declarations import ground_declaration
from ncdc.ir import ConceptKind, ConceptLine, Operator
from ncdc.plan import Inference

_TRUTH_WORD = re.compile(r"^(true|false)$", re.IGNORECASE)
_TRUTH_MARKER = re.compile(r"^%\{truth[_ ]value\}[A-Za-z0-9_]*\((true|false)\)$", re.IGNORECASE)


def check_gate_condition(facts: TypingFacts, gate: Inference, node: object) -> None:
    """NCD401 and NCD402 for one complete gate."""
    if not isinstance(node, Operator) or node.op == "@." or not gate.values:
        return  # `@.` may wait on any concept
    condition = gate.values[0]
    concept = condition.concept
    if concept.kind is not ConceptKind.PROPOSITION:
        facts.reporter.at(
            "NCD401",
            concept.span,
            f"gate condition {condition.name} of `{node.op}` is {KIND_WORD[concept.kind]}, not a proposition",
            help=f"gate on a proposition produced by a judgement, e.g. `{node.op}(<{concept.inner} holds>)`; "
            "use `@.` to wait for a value without testing it",
        )
        return
    name = condition.name
    if name in facts.model.loop_provided:
        return
    producers = facts.model.producers.get(name, [])
    if producers:
        if any(not p.complete or p.function_line.node is None for p in producers):
            return
        others = [p for p in producers if p.sequence != "judgement_in_composition"]
        if others:
            other = others[0]
            facts.unjudged_conditions.add(name)
            facts.reporter.at(
                "NCD402",
                concept.span,
                f"gate condition {name} is produced by `{other.function}` (line {other.function_line.line}), "
                f"which is {_sequence_word(other.sequence)}, not a judgement",
                help=f"produce {name} with a judgement, e.g. `<= ::(…)<ALL True>`",
                related=(facts.related(other.cti_line, f"{name} is produced here"),),
            )
        return
    problem = _ground_truth_problem(facts, name)
    if problem is not None:
        line, what = problem
        facts.reporter.at(
            "NCD402",
            concept.span,
            f"gate condition {name} is not judged and its ground data {what} is not a truth value",
            help=f"produce {name} with a judgement (`<= ::(…)<ALL True>`), or declare it "
            "`| %{literal_value}: true` / `false`",
            related=(facts.related(line, f"{name} is declared here"),),
        )


def _ground_truth_problem(facts: TypingFacts, name: str) -> tuple[ConceptLine, str] | None:
    """For a never-produced condition: the declaration whose data is not truth values, if any.
    Undeclared conditions are NCD931's business; data supplied at run time cannot be judged here."""
    for line in facts.model.lines_naming.get(name, ()):
        kind = ground_declaration(line)
        if kind is None:
            continue
        if kind in PERCEPTION_KEYS:
            annotation = line.annotation(kind)
            return line, f"`%{{{kind}}}: {annotation.value if annotation else ''}`"
        if kind == "literal":
            for annotation in line.annotations:
                if annotation.sigil != "%":
                    continue
                if annotation.key == "literal_value":
                    if not _is_truth_data(annotation.value, json_allowed=True):
                        return line, f"`{annotation.value.strip()}`"
                    return None
                if is_literal_key(annotation.key):
                    value = annotation.value.strip()
                    if value != "(runtime provided)" and not _is_truth_data(value, json_allowed=False):
                        return line, f"`{value}`"
                    return None
        return None
    return None


def check_gated_texts(facts: TypingFacts) -> None:
    """NCD403 for every other occurrence of a gated functional text."""
    gated: dict[str, set[int]] = {}
    for gate in facts.gates:
        gated.setdefault(gate.cti, set()).add(gate.cti_line.index)
    for text, gated_lines in gated.items():
        occurrences = facts.model.function_lines.get(text, [])
        if len(occurrences) < 2:
            continue
        first = next(line for line in occurrences if line.index in gated_lines)
        for line in occurrences:
            if line is first:
                continue
            facts.reporter.at(
                "NCD403",
                line.span,
                f"functional text `{text}` is gated on line {first.line} and also occurs here; a skip of "
                "that gate skips this operation too",
                help="reword one of the two operations so that their texts differ",
                related=(facts.related(first, "the gated occurrence"),),
            )


def _sequence_word(sequence: str) -> str:
    """How NCD402 names the kind of operation that produces a condition."""
    return {
        "imperative_in_composition": "an imperative",
        "assigning": "an assignment",
        "grouping": "a grouping",
        "looping": "a loop",
        "timing": "a timing operation",
    }.get(sequence, sequence)


def _is_truth_data(text: str, *, json_allowed: bool) -> bool:
    """Whether declared ground data is truth values (``%{literal_value}`` is JSON; a literal key's value is text)."""
    value: object = text.strip()
    if json_allowed:
        try:
            value = json.loads(str(value))
        except ValueError:
            pass
    return _is_truth(value)


def _is_truth(value: object) -> bool:
    """A boolean, ``true``/``false``, a ``%{truth_value}(...)`` marker, or a non-empty list of those."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        text = value.strip()
        return bool(_TRUTH_WORD.match(text) or _TRUTH_MARKER.match(text))
    if isinstance(value, list):
        return bool(value) and all(_is_truth(v) for v in value)
    return False
