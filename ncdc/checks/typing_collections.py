"""Collections in readiness typing (CHECKS.md §3.4, §3.6): what assigning, grouping and looping operations
select, group or iterate. NCD404 (a loop base that is no collection), NCD410 (a ``$.`` with no candidate),
NCD411 (per-source axis lists that do not match the sources), and the warnings NCD923 (a grouping axis inferred
from the result's declaration), NCD944 (a loop result that is no collection; FIDELITY §5 dropped the grouping case)
and NCD947 (a loop base whose shape is unknown until run time, a base declared `[_none_axis]`, or a `%:` axis the
base does not declare, erratum E17).

Each looks at one inference's own lines and the declared axes of the concepts it reads; the ``$.`` candidate
rule (R§3.3 step 4) reads the inferences below the ``$.``'s own value lines (``PlanModel.assign_candidates``).
"""

from __future__ import annotations

import re

from ncdc.checks._typing_facts import KIND_WORD, NONE_AXIS, TypingFacts
from ncdc.ir import Annotation, ArgForm, ConceptKind, ConceptRef, Operator
from ncdc.plan import Inference


def check_specification(facts: TypingFacts, inference: Inference, node: Operator) -> None:
    """NCD410: a ``$.`` whose candidate list (R§3.3) is empty."""
    if facts.model.assign_candidates(inference):
        return
    if inference.function_line.annotation("assign_sources") is not None:
        reason = "its `%{assign_sources}` list is empty"
    elif node.modifier("%<") is not None:
        reason = "its `%<` list is empty"
    else:
        selected = node.modifier("%>")
        target = selected.items[0] if selected is not None and len(selected.items) == 1 else None
        if not isinstance(target, ConceptRef) or target.canonical_name != inference.cti:
            return  # NCD212/NCD117, or NCD935: the implicit operand is the candidate
        if any(use.concept.kind is not ConceptKind.PROPOSITION for use in inference.values):
            reason = "every sibling value is consumed inside another sibling's subtree"
        elif inference.values:
            reason = "its only sibling values are propositions"
        else:
            reason = "it has no sibling value lines"
    _no_candidate(facts, inference, reason)


def _no_candidate(facts: TypingFacts, inference: Inference, reason: str) -> None:
    """NCD410 with the reason the candidate list is empty."""
    facts.reporter.at(
        "NCD410",
        inference.function_line.span,
        f"`{inference.function}` has no candidate to select for {inference.cti}: {reason}",
        help="name the candidates with `%<[{a}, {b}]`, or declare them as `<-` lines beside the `$.`",
    )


def check_grouping(facts: TypingFacts, inference: Inference, node: Operator) -> None:
    """NCD411, NCD923 and NCD944 for one complete grouping."""
    modifier = node.modifier("%>")
    sources = [item for item in modifier.items if isinstance(item, ConceptRef)] if modifier is not None else []
    count = len(modifier.items) if modifier is not None else 0
    _per_source_lists(facts, inference, node, sources, count)
    created = node.modifier("%+")
    cti = inference.cti_line.concept
    assert cti is not None
    cti_axes = facts.axes(inference.cti)
    if created is None and len(cti_axes) == 1:
        axis = cti_axes[0]
        if all(axis not in (facts.declared_axes(s.canonical_name) or ()) for s in sources):
            facts.reporter.at(
                "NCD923",
                inference.function_line.span,
                f"`{node.op}` creates the axis `{axis}`: {inference.cti} declares it and no source does",
                help=f"write it: `{inference.function} %+({axis})`",
            )
    # FIDELITY §5: a grouping without `%+` yields one element holding its list or object by design (the NCD944
    # grouping case is dropped).


def _per_source_lists(facts: TypingFacts, inference: Inference, node: Operator, sources: list[ConceptRef], count: int) -> None:
    """NCD411: ``%-``, ``%{by_axes}`` and ``%{collapse_in_grouping}`` give one axis list per ``%>`` source."""
    what = f"{count} source{'s' if count != 1 else ''}"
    collapse = node.modifier("%-")
    well_formed = collapse is not None and collapse.form is ArgForm.LIST
    if collapse is not None and well_formed and all(_item_text(i).startswith("[") for i in collapse.items):
        if len(collapse.items) != count:
            facts.reporter.at(
                "NCD411",
                collapse.span,
                f"`%-` of `{node.op}` gives {len(collapse.items)} axis list(s) for {what}",
                help="give one list per `%>` source, in order; `[]` for a source collapsed on nothing",
            )
    by_axes = inference.function_line.annotation("by_axes")
    if by_axes is not None:
        items = _list_items(by_axes.value)
        if items is not None and len(items) != count:
            facts.reporter.at(
                "NCD411",
                by_axes.span,
                f"`%{{by_axes}}` of `{node.op}` gives {len(items)} axis list(s) for {what}",
                help="give one list per `%>` source, in order; `[]` for a source collapsed on nothing",
            )
    names = {s.canonical_name for s in sources}
    declared: list[Annotation] = []
    for line in facts.value_lines(inference):
        concept = line.concept
        if concept is not None and concept.canonical_name in names:
            annotation = line.annotation("collapse_in_grouping")
            if annotation is not None:
                declared.append(annotation)
    if declared and len(declared) != count:
        facts.reporter.at(
            "NCD411",
            declared[0].span,
            f"{len(declared)} source line(s) of `{node.op}` declare `%{{collapse_in_grouping}}` for {what}",
            help="declare `%{collapse_in_grouping}` on every source line (`[]` for none), or on none",
        )


def _singleton_result(facts: TypingFacts, inference: Inference, family: str, cti: ConceptRef, cti_axes: list[str]) -> None:
    """NCD944: a grouping or loop result is a collection, so a result that is neither a relation nor declared
    with an axis is suspect."""
    if cti.kind is ConceptKind.RELATION or cti_axes:
        return
    declared = facts.declared_axes(inference.cti)
    how = "declared `[_none_axis]`" if declared else "declares no axis"
    facts.reporter.at(
        "NCD944",
        inference.cti_line.span,
        f"{family} `{inference.function}` infers {inference.cti}, {KIND_WORD[cti.kind]} that {how}, but a "
        f"{family} result is a collection",
        help=f"name the result as a relation (`[{cti.inner}]`) or declare its axis (`| %{{ref_axes}}: [axis]`)",
    )


def check_looping(facts: TypingFacts, inference: Inference, node: Operator) -> None:
    """NCD404 and NCD947 on the loop base, NCD944 on the loop result."""
    loop = inference.loop
    if loop is None:
        return
    base = loop.base
    if base is not None:
        declared = facts.declared_axes(base.canonical_name)
        if base.kind is ConceptKind.PROPOSITION:
            facts.reporter.at(
                "NCD404",
                base.span,
                f"loop base {base.canonical_name} is a proposition, not a collection",
                help="loop over a relation (`[items]`) or a concept with a declared non-singleton axis",
            )
        elif declared == [NONE_AXIS]:
            # FIDELITY §1 (C§3.4 NCD404 narrowed, C§3.6 NCD947): a single value is iterated over its items.
            facts.reporter.at(
                "NCD947",
                base.span,
                f"loop base {base.canonical_name} is declared `[_none_axis]` (one value): the loop iterates the "
                "items of that value if it is a list, else runs once",
                help="declare the axis it is iterated along (`| %{ref_axes}: [item]`) or loop over a relation",
            )
        elif (
            base.kind is ConceptKind.OBJECT
            and declared is None
            and any(use.name == base.canonical_name for use in inference.values)
        ):
            facts.reporter.at(
                "NCD947",
                base.span,
                f"loop base {base.canonical_name} is an object `{{…}}` without `%{{ref_axes}}`; whether it is a "
                "collection is unknown until run time",
                help="declare its axes on the base line (`| %{ref_axes}: [item]`) or name it as a relation `[…]`",
            )
        _loop_axis_typo(facts, node, declared, loop.element)
    if node.modifier("%+") is None:
        cti = inference.cti_line.concept
        assert cti is not None
        _singleton_result(facts, inference, "loop", cti, facts.axes(inference.cti))


def _loop_axis_typo(facts: TypingFacts, node: Operator, declared: list[str] | None, element: ConceptRef | None) -> None:
    """NCD947 (erratum E17): a `%:` operand that is not a declared axis of a base that declares axes; the loop
    would silently iterate the base's first axis instead. A `%:` naming the loop's element is the older
    name-the-element spelling (FIDELITY §2(a): both occur in real plans): iterating the base's first axis is
    what it means, so it is not reported."""
    axes = [axis for axis in declared or () if axis != NONE_AXIS]
    modifier = node.modifier("%:")
    if not axes or modifier is None or len(modifier.items) != 1:
        return
    name = loop_axis_name(modifier.argument[1:-1])
    if element is not None and name == loop_axis_name(element.core):
        return
    if name and name not in axes:
        facts.reporter.at(
            "NCD947",
            modifier.span,
            f"loop axis `{name}` is not a declared axis of the base (axes: {', '.join(axes)}); the loop iterates "
            f"`{axes[0]}` instead",
            help=f"name a declared axis: `%:({axes[0]})`",
        )


def loop_axis_name(text: str) -> str:
    """The axis a `*.` `%:` operand names: braces and loop-version suffixes removed (L§2.3, FIDELITY §2)."""
    name = re.sub(r"(\*-?\d+)+$", "", text.strip())
    if len(name) >= 2 and name[0] in "{[" and name[-1] in "}]":
        name = name[1:-1]
    return name.strip()


def _item_text(item: object) -> str:
    """The source text of a modifier item (a concept or a literal)."""
    return item.source_text() if isinstance(item, ConceptRef) else getattr(item, "text", "")


def _list_items(value: str) -> list[str] | None:
    """Top-level items of a bracketed list annotation (``[[a], [b]]`` → 2 items); None if not a list."""
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    inner = text[1:-1]
    items: list[str] = []
    depth = 0
    current = ""
    for char in inner:
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip() or items:
        items.append(current.strip())
    return [item for item in items if item]
