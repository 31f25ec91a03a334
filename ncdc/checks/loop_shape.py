"""Loop shape rules (CHECKS.md §3.5 and §3.6): NCD501 (the body's shape), NCD502 (base declared beside the
loop), NCD503 (one element declaration, on the base; `%:` is the loop axis, FIDELITY §2), NCD504 (the result is computed by the body and selected),
NCD505 (unique loop expressions) and the warning NCD950 (one index per loop).

These read only the ``*.`` line, its parent and the two lists of children, so each costs one pass over the
``*.`` lines or the loops plus work proportional to each loop's own children.
"""

from __future__ import annotations

from ncdc.checks._common import operand, related
from ncdc.checks._loop_facts import Loop, child_lines
from ncdc.ir import ConceptLine, ElementDeclaration, IntegerItem, Marker, Operator
from ncdc.plan import PlanModel
from ncdc.source import Reporter

_VALUE_MARKERS = (Marker.ROOT, Marker.INPUT, Marker.VALUE, Marker.CONTEXT)


def check_shapes(model: PlanModel, reporter: Reporter, star_lines: list[ConceptLine]) -> set[int]:
    """NCD501 for every ``*.`` line; returns the indices of the malformed ones."""
    lines = model.plan.lines
    malformed: set[int] = set()
    for star in star_lines:
        if star.parent is None:
            continue  # NCD203
        parent = lines[star.parent]
        if parent.marker not in _VALUE_MARKERS or parent.children[0] != star.index:
            # Not the function of a value concept. Under another functional line this is NCD208 (or the
            # enclosing loop's NCD501); as a later child of a value line it is NCD205/NCD206.
            continue
        text = star.payload
        if not star.children:
            malformed.add(star.index)
            sibling = flat_loop_result_sibling(model, star)
            if sibling is not None:
                # FIDELITY §3.5: the documented flat form; name the nested rewrite.
                name = sibling.payload
                reporter.at(
                    "NCD501",
                    star.span,
                    f"loop `{text}` has no body: its per-iteration result `<- {name}` (line {sibling.line}) is a "
                    f"sibling of the `*.` line, so nothing runs it per element; move `<- {name}` and its subtree "
                    f"under the `*.` line, preceded by `<= $. %>({name})`",
                    help=f"nest it: `*.` line, then `<= $. %>({name})`, then `<- {name}` with its subtree, each one "
                    "level deeper",
                    related=(related(model.plan.path, sibling, "the per-iteration result"),),
                )
                continue
            reporter.at(
                "NCD501",
                star.span,
                f"loop `{text}` has no body: the `*.` line needs a first child `<= $. %>(R)` and `<-` children "
                "computing the per-iteration result",
                help="add the body under the `*.` line (LANGUAGE.md §5.1 rule 3)",
            )
            continue
        children = [lines[i] for i in star.children]
        first = children[0]
        result = operand(star.node, "%<") if isinstance(star.node, Operator) else None
        result_text = result.source_text() if result is not None else "R"
        if first.marker is not Marker.FUNCTION or (
            first.node is not None and not (isinstance(first.node, Operator) and first.node.op == "$.")
        ):
            malformed.add(star.index)
            reporter.at(
                "NCD501",
                star.span,
                f"the first child of loop `{text}` must be the body selector `<= $. %>({result_text})`, "
                f"not `{first.marker.value} {first.payload}` (line {first.line})",
                help=f"add `<= $. %>({result_text})` as the first child of the `*.` line",
                related=(related(model.plan.path, first, "first child of the loop"),),
            )
            continue
        others = [child for child in children[1:] if child.marker is not Marker.VALUE]
        if others:
            malformed.add(star.index)
            listed = ", ".join(f"`{c.marker.value} {c.payload}` (line {c.line})" for c in others)
            reporter.at(
                "NCD501",
                star.span,
                f"after the body selector, the children of loop `{text}` must be `<-` lines; found {listed}",
                help="base, element and carried declarations (`<*`) belong beside the `*.` line, as children of "
                f"line {lines[star.parent].line}; the body computes its values on `<-` lines",
                related=tuple(related(model.plan.path, c, "not a `<-` line") for c in others),
            )
    return malformed


def flat_loop_result_sibling(model: PlanModel, star: ConceptLine) -> ConceptLine | None:
    """For a `*.` line without children, the `<-` sibling named by its `%<` (the flat loop form, FIDELITY §3.5)."""
    if star.children or star.parent is None or not isinstance(star.node, Operator):
        return None
    result = operand(star.node, "%<")
    if result is None:
        return None
    lines = model.plan.lines
    for index in lines[star.parent].children:
        line = lines[index]
        if line.marker is Marker.VALUE and line.concept is not None and line.concept.canonical_name == result.canonical_name:
            return line
    return None


def flat_loop_cascade_lines(model: PlanModel) -> set[int]:
    """Source lines inside the per-iteration subtree of flat loops: NCD502/NCD506/NCD931 there only restate the
    missing body that NCD501 reports (FIDELITY §3.5)."""
    lines = model.plan.lines
    found: set[int] = set()
    for star in lines:
        if not (isinstance(star.node, Operator) and star.node.op == "*."):
            continue
        sibling = flat_loop_result_sibling(model, star)
        if sibling is None:
            continue
        stack = [sibling.index]
        while stack:
            line = lines[stack.pop()]
            found.add(line.line)
            stack.extend(line.children)
    return found


def check_unique_expressions(model: PlanModel, reporter: Reporter, star_lines: list[ConceptLine]) -> None:
    """NCD505: a loop's result is stored under its expression text, so two loops must not share one."""
    first_seen: dict[str, ConceptLine] = {}
    for star in star_lines:
        text = star.payload
        first = first_seen.setdefault(text, star)
        if first is star:
            continue
        reporter.at(
            "NCD505",
            star.span,
            f"loop expression `{text}` also occurs at line {first.line}; the body result is stored under this "
            "text, so the two loops would receive each other's results",
            help="make the two loops differ, e.g. give this one its own index `%@(2)` or other names",
            related=(related(model.plan.path, first, "first occurrence"),),
        )


def check_indices(model: PlanModel, reporter: Reporter, loops: list[Loop]) -> None:
    """NCD950: loop state and ``*N`` element names are keyed by the loop index."""
    first_seen: dict[int, Loop] = {}
    texts: set[str] = set()
    for loop in loops:
        text = loop.star.payload
        if text in texts:
            continue  # the same loop expression: NCD505 explains it
        texts.add(text)
        modifier = loop.operator.modifier("%@")
        if modifier is not None and not (len(modifier.items) == 1 and isinstance(modifier.items[0], IntegerItem)):
            continue  # NCD117
        index = loop.index
        first = first_seen.setdefault(index, loop)
        if first is loop:
            continue
        span = modifier.span if modifier is not None else loop.star.span
        implicit = "" if modifier is not None else " (no `%@`: the default index 1)"
        reporter.at(
            "NCD950",
            span,
            f"loop index {index}{implicit} is also used by the loop at line {first.star.line}; loop state and "
            f"`*{index}` element names are keyed by the index",
            help=f"give this loop its own index, e.g. `%@({max(first_seen) + 1})`",
            related=(related(model.plan.path, first.star, f"loop with index {index}"),),
        )


def check_operands(model: PlanModel, reporter: Reporter, loop: Loop) -> None:
    """NCD502, NCD503, NCD504 for one complete loop: its base, element and result are declared where it reads
    them."""
    _base(model, reporter, loop)
    _element(model, reporter, loop)
    _result(model, reporter, loop)


def _base(model: PlanModel, reporter: Reporter, loop: Loop) -> None:
    base = operand(loop.operator, "%>")
    if base is None:
        return  # NCD212 / NCD117
    name = base.canonical_name
    siblings = child_lines(model, loop.parent)[1:]
    if any(line.marker is Marker.VALUE and line.concept is not None and line.concept.canonical_name == name for line in siblings):
        return
    hint = ""
    as_context = next(
        (line for line in siblings if line.concept is not None and line.concept.canonical_name == name), None
    )
    in_body = next(
        (
            line
            for line in child_lines(model, loop.star)
            if line.concept is not None and line.concept.canonical_name == name
        ),
        None,
    )
    if as_context is not None:
        hint = f"; line {as_context.line} declares it with `<*`, which the loop does not wait for"
    elif in_body is not None:
        hint = f"; line {in_body.line} declares it under the `*.` line, i.e. inside the body"
    reporter.at(
        "NCD502",
        base.span,
        f"loop base `{name}` is not declared as a `<-` line beside the `*.` line (a child of line "
        f"{loop.parent.line}){hint}",
        help=f"add `<- {name}` as a child of line {loop.parent.line}, after the `*.` line",
    )


def _element(model: PlanModel, reporter: Reporter, loop: Loop) -> None:
    """NCD503 as redefined by FIDELITY §2 and erratum E21: exactly one element declaration on the base — a `<*`
    sibling `<* {x}<$(B)*>`, the inline `%>(B<$({x})*>)`, or both naming the same `{x}`. The `%:` operand is the
    loop axis and is never compared with the element."""
    info = loop.inference.loop
    assert info is not None
    base = operand(loop.operator, "%>")
    if base is None:
        return  # NCD212 / NCD117
    base_name = base.canonical_name
    declarations = info.element_lines
    inline = next((d for d in base.suffixes_of(ElementDeclaration) if d.carry is None), None)
    if not declarations:
        if inline is not None:
            return  # the inline form alone declares it (NCD917 belongs to the front end)
        as_value = next(
            (
                line
                for line in child_lines(model, loop.parent)[1:]
                if line.concept is not None and line.concept.suffixes_of(ElementDeclaration)
            ),
            None,
        )
        hint = f" (line {as_value.line} declares it with `<-`; it must be a `<*` line)" if as_value is not None else ""
        suggestion = as_value.concept.core if as_value is not None and as_value.concept is not None else "{x}"
        reporter.at(
            "NCD503",
            loop.star.span,
            f"loop over `{base_name}` has no element declaration: no `<*` line beside the `*.` line declares "
            f"an element of `{base_name}`{hint}",
            help=f"declare `<* {suggestion}<$({base_name})*>` as a child of line {loop.parent.line}",
        )
        return
    first = declarations[0]
    for extra in declarations[1:]:
        reporter.at(
            "NCD503",
            extra.span,
            f"second element declaration `{extra.payload}` for the loop at line {loop.star.line}; it already "
            f"declares `{first.payload}` (line {first.line})",
            help="a loop has exactly one element: remove this declaration",
            related=(related(model.plan.path, first, "first element declaration"),),
        )
    concept = first.concept
    assert concept is not None
    declaration = concept.suffixes_of(ElementDeclaration)[0]
    if not _same(declaration.base, base_name) and not _same(declaration.base, base.source_text()):
        reporter.at(
            "NCD503",
            first.span,
            f"element declaration `{first.payload}` names the collection `{declaration.base}`, but the loop at "
            f"line {loop.star.line} iterates `{base_name}`",
            help=f"declare the element on the loop's base: `<* {concept.core}<$({base_name})*>`",
        )
        return
    if declaration.index is not None and declaration.index != loop.index:
        reporter.at(
            "NCD503",
            first.span,
            f"element declaration `{first.payload}` names loop {declaration.index}, but the loop at line "
            f"{loop.star.line} has index {loop.index}",
            help=f"write `<$({base_name})*>` (or `*{loop.index}`)",
        )
        return
    if inline is not None and not _same(inline.base, concept.core):
        reporter.at(
            "NCD503",
            first.span,
            f"element declaration `{first.payload}` declares `{concept.core}`, but the loop's `%>` declares the "
            f"element `{inline.base}` inline (line {loop.star.line})",
            help=f"declare one element: drop the inline `<$({inline.base})*>` or write `<* {inline.base}<$({base_name})*>`",
        )


def _result(model: PlanModel, reporter: Reporter, loop: Loop) -> None:
    if loop.malformed:
        return  # NCD501 explains the body
    result = operand(loop.operator, "%<")
    if result is None:
        return  # `%<` is optional (FIDELITY §2): the result is the body `$.`'s `%>` operand; or NCD117
    name = result.canonical_name
    children = child_lines(model, loop.star)
    if not any(line.concept is not None and line.concept.canonical_name == name for line in children[1:]):
        if all(line.node is not None for line in children[1:]):
            computed = ", ".join(f"`{line.concept.canonical_name}`" for line in children[1:] if line.concept is not None)
            reporter.at(
                "NCD504",
                result.span,
                f"loop result `{name}` is not computed by the body: no `<-` child of the `*.` line is named "
                f"`{name}`" + (f" (the body computes {computed})" if computed else ""),
                help=f"add `<- {name}` with its operation under the `*.` line, or name one of the body's values in `%<`",
            )
    selector = children[0]
    node = selector.node
    if isinstance(node, Operator) and node.op == "$.":
        selected = operand(node, "%>")
        if selected is not None and selected.canonical_name != name:
            reporter.at(
                "NCD504",
                selector.span,
                f"the body selector selects `{selected.canonical_name}`, but the loop result (`%<`) is `{name}`",
                help=f"make both name the same body value: `<= $. %>({name})`",
                related=(related(model.plan.path, loop.star, "the loop"),),
            )


def _same(text: str, name: str) -> bool:
    """Equal up to runs of whitespace (a declaration may spell the base with other spacing)."""
    return " ".join(text.split()) == " ".join(name.split())
