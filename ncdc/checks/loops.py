"""Loop rules (CHECKS.md §3.5 and the NCD95x rows of §3.6): NCD501-NCD512, NCD950-NCD952.

A loop ``<- P`` / ``<= *. %>(B) %<(R) %:(X) %@(N)`` is two inferences (LANGUAGE.md §5.1 rule 3): the looping
inference at P (its base, initial values, element and carried declarations are children of P, beside the
``*.`` line) and the loop body, the ``*.`` line's subtree (REPOSITORY_FORMAT.md §4.3). The plan model gives each
looping inference a ``LoopInfo`` and the body as a slice of the flow-ordered inferences; this module adds the
per-line view the reference rules need (one pass over the lines with a stack of the loops whose body is open).

Costs: every rule is one pass over the lines or the inferences, plus work per loop proportional to that loop's
own children; NCD511 runs one strongly-connected-components pass over the dependency edges, and only when some
body reads a concept produced outside its loop body.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ncdc.diagnostics import Related
from ncdc.ir import (
    ConceptLine,
    ConceptRef,
    ElementDeclaration,
    IntegerItem,
    LoopVersion,
    Marker,
    Operator,
)
from ncdc.options import CheckOptions
from ncdc.plan import Inference, PlanModel
from ncdc.source import Reporter

_VALUE_MARKERS = (Marker.ROOT, Marker.INPUT, Marker.VALUE, Marker.CONTEXT)


# ---------------------------------------------------------------------------------------------------------------
# per-loop facts
# ---------------------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Loop:
    """One looping inference with what the rules need about it."""

    inference: Inference
    parent: ConceptLine  # P: the line whose function is the ``*.`` line
    star: ConceptLine  # the ``*.`` line
    operator: Operator
    last: int  # index (in plan.lines) of the last line of the body (the ``*.`` line's subtree)
    plain: str | None  # the element as declared (``%:`` operand, else the first ``<*`` declaration)
    versioned: str | None  # ``plain*N``
    carried_names: dict[str, ConceptLine] = field(default_factory=dict)  # ``X*-N`` -> its declaration line
    carried_targets: dict[str, tuple[str, int, ConceptLine]] = field(default_factory=dict)  # X -> (X*-N, N, line)
    plain_uses: list[tuple[ConceptLine, ConceptRef]] = field(default_factory=list)
    versioned_uses: list[tuple[ConceptLine, ConceptRef]] = field(default_factory=list)
    malformed: bool = False  # NCD501 reported: the body shape is unknown

    @property
    def index(self) -> int:
        info = self.inference.loop
        assert info is not None
        return info.index

    def contains(self, inference: Inference) -> bool:
        """Whether ``inference`` lies in this loop's body (R§4.3)."""
        return _under(inference.flow_index, self.star.flow_index)


def _under(index: str, prefix: str) -> bool:
    return index == prefix or index.startswith(prefix + ".")


def _last_descendant(model: PlanModel, line: ConceptLine) -> int:
    lines = model.plan.lines
    while line.children:
        line = lines[line.children[-1]]
    return line.index


def _operand(operator: Operator, op: str) -> ConceptRef | None:
    modifier = operator.modifier(op)
    if modifier is None or len(modifier.items) != 1:
        return None
    item = modifier.items[0]
    return item if isinstance(item, ConceptRef) else None


def _versions(ref: ConceptRef) -> tuple[int, ...]:
    return tuple(v for suffix in ref.suffixes if isinstance(suffix, LoopVersion) for v in suffix.versions)


def _same(text: str, name: str) -> bool:
    return " ".join(text.split()) == " ".join(name.split())


def _carried_target(concept: ConceptRef) -> tuple[str, int]:
    """``X`` and ``N`` of a carried declaration ``<* X*-N`` or ``<* {x}<$(X)*-N>`` (as the plan model reads it)."""
    declaration = next(iter(concept.suffixes_of(ElementDeclaration)), None)
    if declaration is not None and declaration.carry is not None:
        return declaration.base, declaration.carry
    versions = concept.suffixes_of(LoopVersion)
    n = -versions[-1].versions[-1] if versions else 1
    return concept.core, n


def _flag(line: ConceptLine, key: str, value: str) -> object | None:
    annotation = line.annotation(key)
    if annotation is not None and annotation.value.strip().lower() == value:
        return annotation
    return None


def _related(model: PlanModel, line: ConceptLine, message: str) -> Related:
    return Related(model.plan.path, line.line, line.span.column, message)


def _lines_named(model: PlanModel, name: str) -> list[ConceptLine]:
    return model.lines_naming.get(name, [])


def _is_append(inference: Inference) -> ConceptRef | None:
    """The destination of a ``$+`` inference, else None."""
    node = inference.function_line.node
    if isinstance(node, Operator) and node.op == "$+":
        return _operand(node, "%>")
    return None


# ---------------------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------------------


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    lines = model.plan.lines
    star_lines = [
        line
        for line in lines
        if line.marker is Marker.FUNCTION and isinstance(line.node, Operator) and line.node.op == "*."
    ]
    if not star_lines:
        _references(model, reporter, [])
        return
    loops: list[_Loop] = []
    malformed = _shapes(model, reporter, star_lines)
    for inference in model.inferences:
        info = inference.loop
        if info is None:
            continue
        star = info.operator_line
        node = star.node
        assert isinstance(node, Operator)
        plain = info.element.canonical_name if info.element is not None else None
        if plain is None and info.element_lines:
            plain = info.element_lines[0].concept.canonical_name  # type: ignore[union-attr]
        loop = _Loop(
            inference,
            inference.cti_line,
            star,
            node,
            _last_descendant(model, star),
            plain,
            f"{plain}*{info.index}" if plain is not None else None,
            malformed=star.index in malformed,
        )
        for context in info.carried_lines:
            concept = context.concept
            assert concept is not None
            target, n = _carried_target(concept)
            name = f"{target}*-{n}"
            loop.carried_names.setdefault(name, context)
            loop.carried_targets.setdefault(target, (name, n, context))
        loops.append(loop)

    _unique_expressions(model, reporter, star_lines)
    _indices(model, reporter, loops)
    for loop in loops:
        if not loop.inference.complete:
            continue
        _base(model, reporter, loop)
        _element(model, reporter, loop)
        _result(model, reporter, loop)
        _carried(model, reporter, loop)
    _references(model, reporter, loops)
    appends = _appends(model, reporter, loops)
    _invariant_producers(model, reporter, loops, appends)
    _outside_consumers(model, reporter, loops, appends)
    _own_result(model, reporter, loops)


# ---------------------------------------------------------------------------------------------------------------
# NCD501 — loop shape; NCD505 — unique loop texts; NCD950 — one index per loop
# ---------------------------------------------------------------------------------------------------------------


def _shapes(model: PlanModel, reporter: Reporter, star_lines: list[ConceptLine]) -> set[int]:
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
        result = _operand(star.node, "%<") if isinstance(star.node, Operator) else None
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
                related=(_related(model, first, "first child of the loop"),),
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
                related=tuple(_related(model, c, "not a `<-` line") for c in others),
            )
    return malformed


def _unique_expressions(model: PlanModel, reporter: Reporter, star_lines: list[ConceptLine]) -> None:
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
            related=(_related(model, first, "first occurrence"),),
        )


def _indices(model: PlanModel, reporter: Reporter, loops: list[_Loop]) -> None:
    first_seen: dict[int, _Loop] = {}
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
            related=(_related(model, first.star, f"loop with index {index}"),),
        )


# ---------------------------------------------------------------------------------------------------------------
# NCD502 — base; NCD503 — element declaration; NCD504 — result
# ---------------------------------------------------------------------------------------------------------------


def _children(model: PlanModel, line: ConceptLine) -> list[ConceptLine]:
    return [model.plan.lines[i] for i in line.children]


def _base(model: PlanModel, reporter: Reporter, loop: _Loop) -> None:
    base = _operand(loop.operator, "%>")
    if base is None:
        return  # NCD212 / NCD117
    name = base.canonical_name
    siblings = _children(model, loop.parent)[1:]
    if any(line.marker is Marker.VALUE and line.concept is not None and line.concept.canonical_name == name for line in siblings):
        return
    hint = ""
    as_context = next(
        (line for line in siblings if line.concept is not None and line.concept.canonical_name == name), None
    )
    in_body = next(
        (
            line
            for line in _children(model, loop.star)
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


def _element(model: PlanModel, reporter: Reporter, loop: _Loop) -> None:
    info = loop.inference.loop
    assert info is not None
    base = _operand(loop.operator, "%>")
    element = _operand(loop.operator, "%:")
    if base is None or element is None:
        return  # NCD212 / NCD117
    base_name = base.canonical_name
    declarations = info.element_lines
    if not declarations:
        as_value = next(
            (
                line
                for line in _children(model, loop.parent)[1:]
                if line.concept is not None and line.concept.suffixes_of(ElementDeclaration)
            ),
            None,
        )
        hint = f" (line {as_value.line} declares it with `<-`; it must be a `<*` line)" if as_value is not None else ""
        reporter.at(
            "NCD503",
            loop.star.span,
            f"loop over `{base_name}` has no element declaration: no `<*` line beside the `*.` line declares "
            f"`{element.source_text()}` as an element of `{base_name}`{hint}",
            help=f"add `<* {element.source_text()}<$({base_name})*>` as a child of line {loop.parent.line}",
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
            related=(_related(model, first, "first element declaration"),),
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
    if element.canonical_name != concept.canonical_name:
        reporter.at(
            "NCD503",
            element.span,
            f"the loop element `%:({element.source_text()})` does not name the declared element "
            f"`{concept.canonical_name}` (line {first.line})",
            help=f"write `%:({concept.canonical_name})`, or rename the declaration",
            related=(_related(model, first, "element declaration"),),
        )


def _result(model: PlanModel, reporter: Reporter, loop: _Loop) -> None:
    if loop.malformed:
        return  # NCD501 explains the body
    result = _operand(loop.operator, "%<")
    if result is None:
        return  # NCD212 / NCD117
    name = result.canonical_name
    children = _children(model, loop.star)
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
        selected = _operand(node, "%>")
        if selected is not None and selected.canonical_name != name:
            reporter.at(
                "NCD504",
                selector.span,
                f"the body selector selects `{selected.canonical_name}`, but the loop result (`%<`) is `{name}`",
                help=f"make both name the same body value: `<= $. %>({name})`",
                related=(_related(model, loop.star, "the loop"),),
            )


# ---------------------------------------------------------------------------------------------------------------
# NCD508 / NCD509 / NCD952 — carried concepts; NCD507 for ``%^`` entries and stray carried declarations
# ---------------------------------------------------------------------------------------------------------------


def _carried(model: PlanModel, reporter: Reporter, loop: _Loop) -> None:
    info = loop.inference.loop
    assert info is not None
    initials = {
        line.concept.canonical_name
        for line in _children(model, loop.parent)[1:]
        if line.marker is Marker.VALUE and line.concept is not None
    }
    enclosing = loop.inference.enclosing_loops
    for target, (name, _n, line) in loop.carried_targets.items():
        producers = model.producers.get(target, [])
        in_body = [p for p in producers if loop.contains(p)]
        if f"{target}*0" not in initials:
            before = (
                model.is_ground_declared(target)
                or not model.is_produced(target)
                or any(not loop.contains(p) for p in producers)
                or any(provider in enclosing for provider in model.loop_provided.get(target, ()))
            )
            if not before:
                reporter.at(
                    "NCD508",
                    line.span,
                    f"carried concept `{name}` has no initial value: no `<- {target}*0` beside the `*.` line, and "
                    f"`{target}` is only produced inside the loop body",
                    help=f"add `<- {target}*0` as a child of line {loop.parent.line} (e.g. with "
                    "`| %{literal_value}: ...`)",
                )
        if not in_body:
            reporter.at(
                "NCD952",
                line.span,
                f"carried concept `{name}`: `{target}` is not produced by the loop body, so every iteration sees "
                "the initial value",
                help=f"produce `{target}` with a `<-` line in the body (under line {loop.star.line})",
            )
        seen: set[int] = set()
        for naming in [line, *_lines_named(model, name)]:
            if naming.index in seen:
                continue
            seen.add(naming.index)
            annotation = _flag(naming, "is_invariant", "false")
            if annotation is not None:
                reporter.at(
                    "NCD509",
                    annotation.span,  # type: ignore[attr-defined]
                    f"carried concept `{name}` is declared `%{{is_invariant}}: false`; carried concepts must keep "
                    "their value between iterations",
                    help="remove the annotation (the compiler marks carried concepts invariant)",
                )
    modifier = loop.operator.modifier("%^")
    if modifier is not None:
        for item in modifier.items:
            if isinstance(item, ConceptRef) and item.canonical_name not in loop.carried_names:
                reporter.at(
                    "NCD507",
                    item.span,
                    f"`%^` lists `{item.canonical_name}`, but no `<*` line beside the `*.` line declares it",
                    help=f"add `<* {item.canonical_name}` as a child of line {loop.parent.line}, or remove the entry",
                )


def _unparsed_function(model: PlanModel, line: ConceptLine) -> bool:
    first = model.plan.lines[line.children[0]]
    return first.marker is Marker.FUNCTION and first.node is None


# ---------------------------------------------------------------------------------------------------------------
# NCD506 / NCD507 — element and carried references
# ---------------------------------------------------------------------------------------------------------------


def _line_refs(line: ConceptLine) -> list[ConceptRef]:
    node = line.node
    if isinstance(node, Operator):
        return [item for modifier in node.modifiers for item in modifier.items if isinstance(item, ConceptRef)]
    concept = line.concept
    return [concept] if concept is not None else []


def _references(model: PlanModel, reporter: Reporter, loops: list[_Loop]) -> None:
    by_star = {loop.star.index: loop for loop in loops}
    declarations: set[int] = set()  # a loop's own element/carried declaration lines (checked by NCD503/NCD507)
    element_operands: set[int] = set()
    for loop in loops:
        info = loop.inference.loop
        assert info is not None
        declarations.update(line.index for line in info.element_lines)
        declarations.update(line.index for line in info.carried_lines)
        element = _operand(loop.operator, "%:")
        if element is not None:
            element_operands.add(id(element))
    plain_names = {loop.plain for loop in loops if loop.plain is not None}
    stack: list[_Loop] = []
    blind: list[int] = []  # last lines of the subtrees of functional lines that failed to parse (maybe loops)
    for line in model.plan.lines:
        while stack and stack[-1].last < line.index:
            stack.pop()
        while blind and blind[-1] < line.index:
            blind.pop()
        if line.node is None:
            if line.marker is Marker.FUNCTION and line.children:
                blind.append(_last_descendant(model, line))
            continue
        if blind:
            continue  # the scope is unknown: an unparsed operation may be a loop (one mistake, one diagnostic)
        if line.children and _unparsed_function(model, line):
            # The function of this inference did not parse (e.g. a legacy `*every`): its base, element and
            # carried declarations cannot be told from other children.
            blind.append(_last_descendant(model, line))
        if not stack and "*" not in line.payload:
            continue  # outside loop bodies only `*N` / `*-N` names and carried declarations matter
        own = by_star.get(line.index)
        if own is not None:
            # The ``*.`` line's own operands: ``%>``/``%:`` are read outside the body, ``%<`` names a body value,
            # ``%^`` entries are checked against the carried declarations (NCD507).
            for op in ("%>", "%:"):
                ref = _operand(own.operator, op)
                if ref is not None and id(ref) not in element_operands:
                    _reference(model, reporter, line, ref, stack, plain_names)
            stack.append(own)
            ref = _operand(own.operator, "%<")
            if ref is not None:
                _reference(model, reporter, line, ref, stack, plain_names)
            continue
        if line.index in declarations:
            continue
        for ref in _line_refs(line):
            if ref.suffixes and line.marker is not Marker.FUNCTION:
                _stray_declaration(reporter, ref)
            _reference(model, reporter, line, ref, stack, plain_names)
    for loop in loops:
        if not (loop.plain_uses and loop.versioned_uses):
            continue
        # Both spellings in one body: report the less frequent one (ties: the `*N` one, CHECKS.md §3.5 example).
        if len(loop.versioned_uses) <= len(loop.plain_uses):
            wrong, right, wrong_name, right_name = loop.versioned_uses, loop.plain_uses, loop.versioned, loop.plain
        else:
            wrong, right, wrong_name, right_name = loop.plain_uses, loop.versioned_uses, loop.plain, loop.versioned
        other_line, _ = right[0]
        for _line, ref in wrong:
            reporter.at(
                "NCD506",
                ref.span,
                f"the body of loop {loop.index} (line {loop.star.line}) refers to its element as `{wrong_name}` "
                f"here but as `{right_name}` at line {other_line.line}; the loop provides it under one name only",
                help=f"use one spelling in the whole body: `{right_name}` everywhere",
                related=(_related(model, other_line, f"`{right_name}` used here"),),
            )


def _stray_declaration(reporter: Reporter, concept: ConceptRef) -> None:
    """NCD507 for a carried-element declaration ``{x}<$(X)*-N>`` that no loop owns."""
    for declaration in concept.suffixes_of(ElementDeclaration):
        if declaration.carry is not None:
            reporter.at(
                "NCD507",
                declaration.span,
                f"carried-element declaration `{declaration.text}` outside a loop: only a `<*` line beside a "
                "`*.` line declares a carried concept",
                help="move it beside the `*.` line of the loop that carries it, as a `<*` line",
            )


def _reference(
    model: PlanModel,
    reporter: Reporter,
    line: ConceptLine,
    ref: ConceptRef,
    stack: list[_Loop],
    plain_names: set[str],
) -> None:
    name = ref.canonical_name
    versions = _versions(ref) if ref.suffixes else ()
    if not versions:
        if name in plain_names:
            for loop in stack:
                if loop.plain == name:
                    loop.plain_uses.append((line, ref))
        return
    if any(v < 0 for v in versions):
        if any(name in loop.carried_names for loop in stack):
            return
        scope = (
            f"inside the body of the loop at line {stack[-1].star.line}, which does not declare it"
            if stack
            else "outside any loop body"
        )
        target = ref.core
        reporter.at(
            "NCD507",
            ref.span,
            f"carried reference `{name}` is used {scope}; only a loop that declares `<* {name}` provides "
            "previous-iteration values",
            help=f"declare `<* {name}` beside the `*.` line of the enclosing loop, or refer to `{target}` directly",
        )
        return
    if 0 in versions:
        return  # ``X*0``: an initial value, an ordinary concept
    for loop in stack:
        if loop.plain == name:
            loop.plain_uses.append((line, ref))
            return
        if loop.versioned == name:
            loop.versioned_uses.append((line, ref))
            return
    if name in model.producers or model.is_ground_declared(name):
        return  # an ordinary concept that happens to end in ``*N``
    last = versions[-1]
    prefix = ref.core + "".join(f"*{v}" for v in versions[:-1])
    candidates = [loop for loop in stack if loop.index == last]
    if not candidates:
        reporter.at(
            "NCD506",
            ref.span,
            f"`{name}` names the current element of loop {last}, but this line is not inside the body of a loop "
            f"with index {last}" + (f" (enclosing loops: {', '.join(str(outer.index) for outer in stack)})" if stack else ""),
            help=f"use `{name}` only inside the body of loop {last}; outside it, read the loop's result instead",
        )
        return
    loop = candidates[-1]
    if len(versions) > 1:
        message = (
            f"the chain `{name}` does not match the nesting of loops: loop {last} (line {loop.star.line}) iterates "
            f"over the element `{loop.plain}`, not `{prefix}`"
        )
    else:
        message = (
            f"`{name}` is not the element of loop {last}: the loop at line {loop.star.line} provides "
            f"`{loop.plain}` (or `{loop.versioned}`)"
        )
    reporter.at(
        "NCD506",
        ref.span,
        message,
        help=f"refer to the element as `{loop.plain}` (one spelling per loop)",
        related=(_related(model, loop.star, f"loop {last}"),),
    )


# ---------------------------------------------------------------------------------------------------------------
# NCD510 / NCD512 — what may be produced inside a body; NCD951 — body values read after the loop
# ---------------------------------------------------------------------------------------------------------------


def _appends(model: PlanModel, reporter: Reporter, loops: list[_Loop]) -> dict[str, list[Inference]]:
    """NCD510; returns ``$+`` destinations (canonical names) -> the ``$+`` inferences inside loop bodies."""
    appends: dict[str, list[Inference]] = {}
    if not loops:
        return appends
    for inference in model.inferences:
        if not inference.enclosing_loops or inference.kind != "ordinary":
            continue
        destination = _is_append(inference)
        if destination is None:
            continue
        name = destination.canonical_name
        appends.setdefault(name, []).append(inference)
        if not inference.complete:
            continue
        reason = None
        for line in _lines_named(model, name):
            annotation = _flag(line, "is_invariant", "false")
            if annotation is not None:
                reason = f"it is declared `%{{is_invariant}}: false` (line {line.line})"
                break
        if reason is None:
            for producer in model.producers.get(name, ()):
                if producer is inference or _is_append(producer) is not None:
                    continue
                shared = [
                    loop
                    for loop in inference.enclosing_loops
                    if _under(producer.flow_index, loop.loop.operator_line.flow_index)  # type: ignore[union-attr]
                ]
                if shared:
                    reason = (
                        f"it is also produced at line {producer.source_line}, inside the same loop body (loop at "
                        f"line {shared[0].loop.operator_line.line}), so it is reset every iteration"  # type: ignore[union-attr]
                    )
                    break
        if reason is not None:
            reporter.at(
                "NCD510",
                destination.span,
                f"`$+` appends to `{name}` inside a loop body, but {reason}: the accumulation restarts each "
                "iteration and only the last item survives",
                help=f"initialise `{name}` before the loop (e.g. `<= $% %>([])` on a `<-` line beside the `*.` "
                "line) and drop the in-body producer / the annotation",
            )
    return appends


def _invariant_producers(
    model: PlanModel, reporter: Reporter, loops: list[_Loop], appends: dict[str, list[Inference]]
) -> None:
    """NCD512."""
    if not loops:
        return
    by_inference = {loop.inference.flow_index: loop for loop in loops}
    declared_invariant: dict[str, bool] = {}
    for inference in model.inferences:
        if inference.kind != "ordinary" or not inference.enclosing_loops or not inference.complete:
            continue
        if _is_append(inference) is not None:
            continue
        name = inference.cti
        enclosing = [by_inference[loop.flow_index] for loop in inference.enclosing_loops if loop.flow_index in by_inference]
        carrier = next((loop for loop in enclosing if name in loop.carried_names), None)
        if carrier is not None:
            reporter.at(
                "NCD512",
                inference.cti_line.span,
                f"`{name}` is carried by the loop at line {carrier.star.line} (the loop provides it from the "
                "previous iteration), but it is also produced here inside the loop body",
                help=f"produce `{name.rsplit('*-', 1)[0]}` in the body and let the loop carry it",
                related=(_related(model, carrier.carried_names[name], "carried declaration"),),
            )
            continue
        if name not in declared_invariant:
            declared_invariant[name] = any(_flag(line, "is_invariant", "true") for line in _lines_named(model, name))
        if not declared_invariant[name]:
            continue
        loop = enclosing[-1] if enclosing else None
        if loop is None:
            continue
        if any(loop.contains(append) for append in appends.get(name, ())):
            continue  # a ``$+`` destination produced in the same body: NCD510
        reporter.at(
            "NCD512",
            inference.cti_line.span,
            f"`{name}` is declared `%{{is_invariant}}: true` but is produced inside the body of the loop at line "
            f"{loop.star.line}: consumers in the next iteration read the previous value before this runs again",
            help="remove `%{is_invariant}: true`, or produce the value before the loop",
        )


def _outside_consumers(
    model: PlanModel, reporter: Reporter, loops: list[_Loop], appends: dict[str, list[Inference]]
) -> None:
    """NCD951: a value produced in a loop body and read by an inference outside that loop's body. A read is
    local when some producer of the value lies in a loop body that also contains the reader (the reader then
    waits for its own iteration's value; several producers are NCD930's business)."""
    if not loops:
        return
    by_inference = {loop.inference.flow_index: loop for loop in loops}
    innermost: dict[str, list[_Loop]] = {}  # concept -> the innermost loop of each producer inside a body
    for inference in model.inferences:
        if inference.kind != "ordinary" or not inference.enclosing_loops:
            continue
        found = by_inference.get(inference.enclosing_loops[-1].flow_index)
        if found is not None:
            bucket = innermost.setdefault(inference.cti, [])
            if found not in bucket:
                bucket.append(found)
    if not innermost:
        return
    invariant: dict[str, bool] = {}
    carried = {name for loop in loops for name in loop.carried_names}
    reported: set[int] = set()
    for consumer in model.inferences:
        if not consumer.complete:
            continue
        for use in consumer.values + consumer.contexts:
            producing = innermost.get(use.name)
            if not producing or use.line.index in reported:
                continue
            if any(loop.inference in consumer.enclosing_loops for loop in producing):
                continue  # read inside the body that produces it
            if any(consumer is loop.inference and use.name in loop.carried_targets for loop in producing):
                continue  # the value of a carried concept before the loop
            name = use.name
            if name not in invariant:
                invariant[name] = (
                    name in carried
                    or name in appends
                    or any(_flag(line, "is_invariant", "true") for line in _lines_named(model, name))
                )
            if invariant[name]:
                continue
            loop = producing[0]
            reported.add(use.line.index)
            reporter.at(
                "NCD951",
                use.concept.span if use.concept.span.line else use.line.span,
                f"`{name}` is produced inside the body of the loop at line {loop.star.line} but read here, outside "
                "that loop: only the last iteration's value survives",
                help=f"read the loop's result `{loop.inference.cti}` instead, or accumulate with `$+` into a "
                "concept initialised before the loop",
                related=(_related(model, loop.star, "the loop"),),
            )


# ---------------------------------------------------------------------------------------------------------------
# NCD511 — a body waiting for its own loop's result
# ---------------------------------------------------------------------------------------------------------------


def _own_result(model: PlanModel, reporter: Reporter, loops: list[_Loop]) -> None:
    candidates: list[tuple[_Loop, Inference]] = []
    for loop in loops:
        if not loop.inference.complete:
            continue
        for inference in model.body_of(loop.inference):
            if not inference.complete:
                continue
            for use in inference.values + inference.contexts:
                if any(not loop.contains(p) for p in model.producers.get(use.name, ())):
                    candidates.append((loop, inference))
                    break
    if not candidates:
        return
    component = _components(model)
    reported: set[tuple[int, int]] = set()
    for loop, inference in candidates:
        own = component.get(loop.inference.flow_index)
        if own is None or component.get(inference.flow_index) != own:
            continue
        for use in inference.values + inference.contexts:
            if any(provider in inference.enclosing_loops for provider in model.loop_provided.get(use.name, ())):
                continue
            producers = [
                p
                for p in model.producers.get(use.name, ())
                if not loop.contains(p) and component.get(p.flow_index) == own
            ]
            if not producers or (use.line.index, id(loop)) in reported:
                continue
            reported.add((use.line.index, id(loop)))
            aggregate = loop.inference.cti
            if use.name == aggregate:
                what = f"reads `{aggregate}`, the result of its own loop (line {loop.star.line})"
            else:
                what = (
                    f"reads `{use.name}` (produced at line {producers[0].source_line}), which waits for "
                    f"`{aggregate}`, the result of its own loop (line {loop.star.line})"
                )
            reporter.at(
                "NCD511",
                use.concept.span if use.concept.span.line else use.line.span,
                f"the loop body {what}; the aggregate exists only after the last iteration: deadlock",
                help="use the carried previous value (`X*-1`) or the current element instead",
                related=(_related(model, loop.parent, "the loop's result"),),
            )


def _components(model: PlanModel) -> dict[str, int]:
    """Strongly connected components of the dependency edges (iterative Tarjan); only members of a component
    with a cycle get an id."""
    edges = model.edges
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    counter = 0
    label = 0
    for root in edges:
        if root in index_of:
            continue
        work: list[tuple[str, object]] = [(root, iter(edges[root]))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:  # type: ignore[attr-defined]
                if successor not in index_of:
                    index_of[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges.get(successor, {}))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index_of[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in edges.get(node, {}):
                    for member in members:
                        component[member] = label
                    label += 1
    return component


__all__ = ["check"]
