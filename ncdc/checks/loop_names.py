"""Loop name rules (CHECKS.md §3.5, §3.6): how the element and the carried concepts are declared and referred to.

NCD506 (an element reference outside its loop's body, or two spellings of one element), NCD507 (a carried
reference or ``%^`` entry that no loop declares, a stray carried declaration), NCD508 (a carried concept
without an initial value), NCD509 (a carried concept declared variant) and the warning NCD952 (a carried
concept the body never produces).

References are checked in one pass over the lines with a stack of the loops whose body is open (the body is the
``*.`` line's subtree, a contiguous run of lines); carried declarations cost work per loop proportional to that
loop's own children.
"""

from __future__ import annotations

from ncdc.checks._common import operand, related
from ncdc.checks._loop_facts import Loop, _carried_target, child_lines, flag, last_descendant, lines_named
from ncdc.ir import ConceptLine, ConceptRef, ElementDeclaration, LoopVersion, Marker, Operator
from ncdc.plan import PlanModel
from ncdc.source import Reporter


def check_carried(model: PlanModel, reporter: Reporter, loop: Loop) -> None:
    """NCD508, NCD952 and NCD509 for each carried concept of one complete loop, then NCD507 for its ``%^``
    entries."""
    info = loop.inference.loop
    assert info is not None
    initials = {
        line.concept.canonical_name
        for line in child_lines(model, loop.parent)[1:]
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
        for naming in [line, *lines_named(model, name)]:
            if naming.index in seen:
                continue
            seen.add(naming.index)
            annotation = flag(naming, "is_invariant", "false")
            if annotation is not None:
                reporter.at(
                    "NCD509",
                    annotation.span,  # type: ignore[attr-defined]
                    f"carried concept `{name}` is declared `%{{is_invariant}}: false`; carried concepts must keep "
                    "their value between iterations",
                    help="remove the annotation (the compiler marks carried concepts invariant)",
                )
    # FIDELITY §3.6: a `%^` entry names a carried concept (`X*-N`, or `{x}<$(X)*-N>` naming `X*-N`); an entry
    # without a `<*` declaration is compiled as one (NCD917, front end). NCD507 only for an entry that contradicts
    # a `<*` declaration of the same X with another N.
    modifier = loop.operator.modifier("%^")
    if modifier is not None:
        for item in modifier.items:
            if not isinstance(item, ConceptRef):
                continue
            target, n = _carried_target(item)
            declared = loop.carried_targets.get(target)
            if declared is None or declared[1] == n:
                continue
            reporter.at(
                "NCD507",
                item.span,
                f"`%^` lists the carried name `{target}*-{n}`, but line {declared[2].line} declares `{declared[0]}` "
                "for the same concept",
                help=f"write `%^({declared[0]})`, or change the `<*` declaration",
                related=(related(model.plan.path, declared[2], "carried declaration"),),
            )


def _unparsed_function(model: PlanModel, line: ConceptLine) -> bool:
    """Whether the function line of ``line`` failed to parse (it may be a loop: its scope is unknown)."""
    first = model.plan.lines[line.children[0]]
    return first.marker is Marker.FUNCTION and first.node is None


def _line_refs(line: ConceptLine) -> list[ConceptRef]:
    """The concepts a line names: an operator's operands, else the line's own concept."""
    node = line.node
    if isinstance(node, Operator):
        return [item for modifier in node.modifiers for item in modifier.items if isinstance(item, ConceptRef)]
    concept = line.concept
    return [concept] if concept is not None else []


def check_references(model: PlanModel, reporter: Reporter, loops: list[Loop]) -> None:
    """NCD506 / NCD507 for every ``*N`` / ``*-N`` reference, in one pass over the lines with a stack of the loops
    whose body is open; then NCD506 for a body that spells its element both ways."""
    by_star = {loop.star.index: loop for loop in loops}
    declarations: set[int] = set()  # a loop's own element/carried declaration lines (checked by NCD503/NCD507)
    element_operands: set[int] = set()
    for loop in loops:
        info = loop.inference.loop
        assert info is not None
        declarations.update(line.index for line in info.element_lines)
        declarations.update(line.index for line in info.carried_lines)
        element = operand(loop.operator, "%:")
        if element is not None:
            element_operands.add(id(element))
    plain_names = {loop.plain for loop in loops if loop.plain is not None}
    stack: list[Loop] = []
    blind: list[int] = []  # last lines of the subtrees of functional lines that failed to parse (maybe loops)
    for line in model.plan.lines:
        while stack and stack[-1].last < line.index:
            stack.pop()
        while blind and blind[-1] < line.index:
            blind.pop()
        if line.node is None:
            if line.marker is Marker.FUNCTION and line.children:
                blind.append(last_descendant(model, line))
            continue
        if blind:
            continue  # the scope is unknown: an unparsed operation may be a loop (one mistake, one diagnostic)
        if line.children and _unparsed_function(model, line):
            # The function of this inference did not parse (e.g. a legacy `*every`): its base, element and
            # carried declarations cannot be told from other children.
            blind.append(last_descendant(model, line))
        if not stack and "*" not in line.payload:
            continue  # outside loop bodies only `*N` / `*-N` names and carried declarations matter
        own = by_star.get(line.index)
        if own is not None:
            # The ``*.`` line's own operands: ``%>``/``%:`` are read outside the body, ``%<`` names a body value,
            # ``%^`` entries are checked against the carried declarations (NCD507).
            for op in ("%>", "%:"):
                ref = operand(own.operator, op)
                if ref is not None and id(ref) not in element_operands:
                    _reference(model, reporter, line, ref, stack, plain_names)
            stack.append(own)
            ref = operand(own.operator, "%<")
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
                related=(related(model.plan.path, other_line, f"`{right_name}` used here"),),
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
    stack: list[Loop],
    plain_names: set[str],
) -> None:
    """Check one reference on ``line`` against the open loops (``stack``, innermost last), and record the uses
    of each loop's element spellings."""
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
    if loop.plain is None:
        return  # the loop declares no element (NCD503): its body's element reads are that one mistake
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
        related=(related(model.plan.path, loop.star, f"loop {last}"),),
    )


def _versions(ref: ConceptRef) -> tuple[int, ...]:
    """The loop versions a reference carries: ``{x}*1*2`` -> (1, 2), ``X*-1`` -> (-1,)."""
    return tuple(v for suffix in ref.suffixes if isinstance(suffix, LoopVersion) for v in suffix.versions)
