"""Input bindings (CHECKS.md §3.4, §3.6): NCD406 (a slot bound twice), NCD407 (slots not numbered 1..k), NCD408
(a placeholder without a binding, or a binding without a placeholder), and the warnings NCD940 (a binding on an
input of a syntactic operator), NCD941 (an unbound input beside bound ones) and NCD942 (placeholders but no
binding).

Each looks only at one inference's own lines.
"""

from __future__ import annotations

from ncdc.checks._typing_facts import TypingFacts
from ncdc.diagnostics import Related
from ncdc.ir import Binding, ConceptLine, ConceptRef, Operator, Semantic
from ncdc.plan import Inference


def check_syntactic_bindings(facts: TypingFacts, inference: Inference) -> None:
    """NCD940: a syntactic operator reads its operands from its modifiers, never from slots."""
    node = inference.function_line.node
    assert isinstance(node, Operator)
    for line in facts.head_children(inference):
        concept = line.concept
        if concept is None:
            continue
        for binding in concept.suffixes_of(Binding):
            facts.reporter.at(
                "NCD940",
                binding.span,
                f"binding `{binding.text}` on {concept.canonical_name}, an input of the syntactic operator "
                f"`{node.op}`, is ignored",
                help=f"remove `{binding.text}`: `{node.op}` reads its operands from its modifiers, not from slots",
            )


def check_bindings(facts: TypingFacts, inference: Inference, node: Semantic) -> None:
    """NCD406, NCD407, NCD408 (errors) and NCD941, NCD942 (warning/info) on the value children."""
    bound: list[tuple[ConceptLine, ConceptRef, Binding]] = []
    bound_names: set[str] = set()
    unbound: list[ConceptLine] = []
    for line in facts.value_lines(inference):
        concept = line.concept
        if concept is None:
            continue
        bindings = concept.suffixes_of(Binding)
        if bindings:
            bound_names.add(concept.canonical_name)
            bound.extend((line, concept, b) for b in bindings)
        else:
            unbound.append(line)
    errors = False
    by_slot: dict[int, tuple[ConceptRef, Binding]] = {}
    for _line, concept, binding in bound:
        first = by_slot.get(binding.slot)
        if first is None:
            by_slot[binding.slot] = (concept, binding)
        elif first[0].canonical_name != concept.canonical_name:
            errors = True
            facts.reporter.at(
                "NCD406",
                binding.span,
                f"slot {binding.slot} is bound twice: {first[0].canonical_name} (line {first[1].span.line}) and "
                f"{concept.canonical_name}",
                help="number the slots 1..k, once each",
                related=(Related(facts.reporter.path, first[1].span.line, first[1].span.column, "first binding"),),
            )
    for position, slot in enumerate(sorted(by_slot), start=1):
        if slot != position:
            errors = True
            concept, binding = by_slot[slot]
            facts.reporter.at(
                "NCD407",
                binding.span,
                f"bindings of `{inference.function}` skip slot {position}: {concept.canonical_name} is bound to "
                f"slot {slot}; slots must run 1..{len(by_slot)}",
                help=f"renumber it `<:{{{position}}}>` and update the placeholders of the body",
            )
            break
    placeholders = node.placeholders
    if placeholders and bound and not errors:
        numbers = {p.number for p in placeholders}
        seen: set[int] = set()
        for placeholder in placeholders:
            if placeholder.number in by_slot or placeholder.number in seen:
                continue
            seen.add(placeholder.number)
            errors = True
            facts.reporter.at(
                "NCD408",
                placeholder.span,
                f"placeholder {{{placeholder.number}}} of `{inference.function}` has no input bound "
                f"`<:{{{placeholder.number}}}>`",
                help=f"bind the input it stands for: `<- {{…}}<:{{{placeholder.number}}}>`",
            )
        for slot in sorted(by_slot):
            if slot in numbers:
                continue
            errors = True
            concept, binding = by_slot[slot]
            facts.reporter.at(
                "NCD408",
                binding.span,
                f"{concept.canonical_name} is bound to slot {slot}, but the body of `{inference.function}` has "
                f"no placeholder {{{slot}}}",
                help=f"mention `{{{slot}}}` in the instruction, or remove the binding",
            )
    if errors or inference.function_line.annotation("value_order") is not None:
        return  # an explicit %{value_order} orders the inputs itself
    if bound:
        first_unbound = next((line for line in unbound if line.concept.canonical_name not in bound_names), None)
        if first_unbound is not None:
            names = sorted(bound_names)
            facts.reporter.at(
                "NCD941",
                first_unbound.span,
                f"{first_unbound.concept.canonical_name} is not bound while {', '.join(names)} "
                f"{'is' if len(names) == 1 else 'are'}; `{inference.function}` receives only the bound inputs",
                help=f"bind it (`<:{{{len(by_slot) + 1}}}>`) if the operation should read it, or accept that it "
                "is a dependency only",
            )
    elif placeholders:
        numbers_text = ", ".join(f"{{{n}}}" for n in sorted({p.number for p in placeholders}))
        facts.reporter.at(
            "NCD942",
            inference.function_line.span,
            f"the body of `{inference.function}` uses placeholders {numbers_text} but no input is bound",
            help="bind each input to its placeholder, e.g. `<- {…}<:{1}>`",
        )
