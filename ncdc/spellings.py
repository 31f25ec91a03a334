"""Accepted spellings that are not the preferred form (FIDELITY §3, §6; NCD917): rewritten in the IR to the
preferred form, so that every later stage (checks, interpretation, emit) sees one form.

Each rewrite needs the tree (the inference's cti, its value children), so it runs after the lines are linked
and before the structure and operator rules. The source text (``ConceptLine.payload``, spans) is kept as written;
only the parsed node changes, and the NCD917 message names both the written and the preferred form.
"""

from __future__ import annotations

import dataclasses
import re

from ncdc.ir import (
    AngleForm,
    Binding,
    ArgForm,
    ConceptLine,
    ConceptRef,
    ElementDeclaration,
    IdentificationMarker,
    IntegerItem,
    LoopVersion,
    Marker,
    Modifier,
    Operator,
    RootPayload,
    Selector,
    Semantic,
    Span,
)
from ncdc.flow import heads_only_indices
from ncdc.source import Reporter

_VALUE_MARKERS = (Marker.ROOT, Marker.INPUT, Marker.VALUE, Marker.CONTEXT)


def canonicalise(lines: list[ConceptLine], reporter: Reporter) -> list[ConceptLine]:
    """The lines with accepted spellings rewritten to their preferred form (NCD917 reported for each)."""
    out = list(lines)
    for position in range(len(lines)):
        _timing_as_function(out, out[position], reporter)
    for position, line in enumerate(out):
        node = line.node
        if not isinstance(node, Operator) or line.parent is None:
            continue
        result_line = out[line.parent]
        if result_line.marker not in _VALUE_MARKERS:
            # A gate or another functional line under a functional line: only bare timing is rewritten there.
            if node.family == "timing" and not node.modifiers:
                rewritten = _bare_timing(out, line, node)
                if rewritten is not node:
                    out[position] = dataclasses.replace(line, node=rewritten, payload=rewritten.text)
            continue
        cti = result_line.concept
        if cti is None:
            continue
        rewritten = node
        if node.op == "$.":
            rewritten = _specification(line, node, cti, reporter)
        elif node.op == "$+":
            rewritten = _swapped_append(line, node, cti, reporter)
        elif node.op == "$-":
            rewritten = _selection(out, line, result_line, node, cti, reporter)
        elif node.op == "*.":
            rewritten = _carried_entries(node)
        if node.op != "*.":
            _axis_list_problems(out, line, node, reporter)
        if rewritten is not node:
            # The payload is the operator's canonical name (declarations.functional_text): keep them one.
            out[position] = dataclasses.replace(line, node=rewritten, payload=rewritten.text)
    for position in range(len(out)):
        line = out[position]
        if isinstance(line.node, Operator) and line.node.op == "*." and line.parent is not None:
            _loop_declarations(out, line, line.node, reporter)
        elif _is_output_placement(out, line):
            out[position] = dataclasses.replace(line, output_placement=True)
        elif "<$={" in line.payload and isinstance(line.node, (ConceptRef, RootPayload)):
            # `<$={N}>` was read as `<$({N})=>` (parse.classify_angle): the payload follows the node.
            out[position] = dataclasses.replace(line, payload=_concept_payload(line.node))
    if len(out) == len(lines):
        return out
    return _in_file_order(out)


def _concept_payload(node: ConceptRef | RootPayload) -> str:
    if isinstance(node, ConceptRef):
        return node.source_text()
    inner = node.concept.source_text()
    return "(" + inner + ")" + "".join(s.text for s in node.outer_suffixes) if node.wrapped else inner


def _in_file_order(lines: list[ConceptLine]) -> list[ConceptLine]:
    """Renumber after synthetic lines were appended: every line takes its pre-order position in the tree, which is
    file order for written lines and puts a synthetic line right after its parent's last descendant — where the
    preferred form would have written it (and where the round-trip printer prints it). Heads-only indices are
    recomputed on the new shape; computed flow indices never change (synthetic lines are last children)."""
    order: list[int] = []
    stack = [i for i in reversed(range(len(lines))) if lines[i].parent is None]
    while stack:
        index = stack.pop()
        order.append(index)
        stack.extend(reversed(lines[index].children))
    if len(order) != len(lines):  # cannot happen for a tree; keep the lines as they are rather than lose any
        return lines
    new_index = {old: new for new, old in enumerate(order)}
    moved = [
        dataclasses.replace(
            lines[old],
            index=new_index[old],
            parent=new_index[lines[old].parent] if lines[old].parent is not None else None,
            children=tuple(new_index[c] for c in lines[old].children),
        )
        for old in order
    ]
    heads = heads_only_indices([line.parent for line in moved], [line.children for line in moved])
    return [dataclasses.replace(line, heads_only_index=heads[line.index]) for line in moved]


def _is_output_placement(lines: list[ConceptLine], line: ConceptLine) -> bool:
    """FIDELITY §6.2: a bound `<-` child without children whose name is the inference's own cti (the result
    placeholder of `::(sum {1} and {2} to get {3})` with `<- {result}<:{3}>`) marks where the result goes."""
    concept = line.concept
    if line.marker is not Marker.VALUE or line.children or line.parent is None or concept is None:
        return False
    if not any(isinstance(s, Binding) for s in concept.suffixes):
        return False
    parent = lines[line.parent]
    cti = parent.concept
    if cti is None or not parent.children or not isinstance(lines[parent.children[0]].node, Semantic):
        return False
    return concept.canonical_name == cti.canonical_name


# ------------------------------------------------------------------ helpers


def identity(concept: ConceptRef) -> str:
    """A concept's canonical name after dropping identification markers: the core plus loop-version suffixes
    (FIDELITY E12) — what "has the destination's core" means for `$+` and for naming the cti."""
    return concept.core + "".join(s.text for s in concept.suffixes if isinstance(s, LoopVersion))


def _single_concept(modifier: Modifier | None) -> ConceptRef | None:
    if modifier is None or modifier.form is not ArgForm.SINGLE or len(modifier.items) != 1:
        return None
    item = modifier.items[0]
    return item if isinstance(item, ConceptRef) else None


def _names_cti(item: object, cti: ConceptRef) -> bool:
    return isinstance(item, ConceptRef) and item.canonical_name == cti.canonical_name


def _modifier(op: str, argument: str, items: tuple, span: Span) -> Modifier:
    return Modifier(op, ArgForm.SINGLE if argument.startswith("(") else ArgForm.LIST, argument, items, " ", "", span)


def _warn(reporter: Reporter, line: ConceptLine, written: str, preferred: str, why: str) -> None:
    span = line.payload_span
    reporter.report(
        "NCD917",
        span.line,
        span.column,
        f"`{written}` is an accepted spelling; the preferred form is `{preferred}` ({why})",
        end_column=span.end_column,
        help=f"write `{preferred}`",
    )


# ------------------------------------------------------------------ $. (FIDELITY §3.1, E3)


def _specification(line: ConceptLine, node: Operator, cti: ConceptRef, reporter: Reporter) -> Operator:
    """`$. %<({cti})` / `%<[{cti}, …]`: an entry naming the inference's own cti only names the destination and
    is not a candidate; it is dropped (NCD917). `%>({cti})` is the dominant idiom and is left alone (E3)."""
    candidates = node.modifier("%<")
    if candidates is None or not any(_names_cti(item, cti) for item in candidates.items):
        return node
    kept = tuple(item for item in candidates.items if not _names_cti(item, cti))
    modifiers = []
    for modifier in node.modifiers:
        if modifier is not candidates:
            modifiers.append(modifier)
        elif kept:
            argument = "[" + ", ".join(item.text for item in kept) + "]"
            modifiers.append(_modifier("%<", argument, kept, modifier.span))
    rewritten = dataclasses.replace(node, modifiers=tuple(modifiers))
    _warn(
        reporter,
        line,
        node.text,
        rewritten.text,
        f"`{cti.canonical_name}` is the inference's own result, not a candidate: drop it",
    )
    return rewritten


# ------------------------------------------------------------------ $+ (FIDELITY §3.3, E12)


def _swapped_append(line: ConceptLine, node: Operator, cti: ConceptRef, reporter: Reporter) -> Operator:
    """`$+ %<(dest) %>(item)`: when the `%<` operand, and not the `%>` one, has the result line's identity, the
    roles are read swapped and rewritten to `$+ %>(dest) %<(item)` (NCD917)."""
    destination, item = node.modifier("%>"), node.modifier("%<")
    first, second = _single_concept(destination), _single_concept(item)
    if first is None or second is None or destination is None or item is None:
        return node
    result = identity(cti)
    if identity(second) != result or identity(first) == result:
        return node
    swapped = []
    for modifier in node.modifiers:
        if modifier is destination:
            swapped.append(dataclasses.replace(item, op="%>"))
        elif modifier is item:
            swapped.append(dataclasses.replace(destination, op="%<"))
        else:
            swapped.append(modifier)
    # The preferred order is `%>` first, then `%<`, then the rest as written.
    order = {"%>": 0, "%<": 1}
    swapped.sort(key=lambda m: order.get(m.op, 2))
    rewritten = dataclasses.replace(node, modifiers=tuple(swapped))
    _warn(reporter, line, node.text, rewritten.text, "`%>` names the destination and `%<` the item")
    return rewritten


# ------------------------------------------------------------------ $- (FIDELITY §3.10)


def _selection(
    lines: list[ConceptLine],
    line: ConceptLine,
    result_line: ConceptLine,
    node: Operator,
    cti: ConceptRef,
    reporter: Reporter,
) -> Operator:
    """`$- %<({cti}) %@(N)` with one value child: `%@(N)` is the selector `<$*N>`, a `%<` naming the cti is
    dropped, and a missing `%>` is the single value child (the source). Rewritten to `$- %>(S) %^(<$*N>)`."""
    index = node.modifier("%@")
    target = node.modifier("%<")
    source = node.modifier("%>")
    if index is None and target is None and source is not None:
        return node
    if target is not None and not (len(target.items) == 1 and _names_cti(target.items[0], cti)):
        return node  # `%<` naming something else stays NCD212
    if index is not None and (len(index.items) != 1 or not isinstance(index.items[0], IntegerItem)):
        return node
    if index is not None and node.modifier("%^") is not None:
        return node  # two selectors: leave it to NCD212
    modifiers = [m for m in node.modifiers if m is not index and m is not target]
    if source is None:
        values = [
            lines[i]
            for i in result_line.children
            if lines[i].marker is Marker.VALUE and lines[i].concept is not None
        ]
        if len(values) != 1:
            return node  # the source is ambiguous: NCD212 names the missing `%>`
        child = values[0].concept
        assert child is not None
        plain = ConceptRef(child.kind, child.core, tuple(s for s in child.suffixes if isinstance(s, (LoopVersion, IdentificationMarker))), child.span)
        modifiers.insert(0, _modifier("%>", f"({plain.text})", (plain,), line.payload_span))
    if index is not None:
        number = index.items[0].value  # type: ignore[union-attr]
        raw = f"<$*{number}>"
        selector = AngleForm(raw, Selector(raw, index.span), index.span)
        modifiers.append(_modifier("%^", f"({raw})", (selector,), index.span))
    if not modifiers:
        return node
    rewritten = dataclasses.replace(node, modifiers=tuple(modifiers), direct=False)
    _warn(reporter, line, node.text, rewritten.text, "name the source with `%>` and the selector with `%^`")
    return rewritten


# ------------------------------------------------------------------ *. carried entries (FIDELITY §3.6)


def _carried_entries(node: Operator) -> Operator:
    """`%^({x}<$(X)*-N>)` names the carried concept `X*-N`; rewritten so that entries match `<*` declarations by
    (X, N) (no diagnostic: both are documented spellings of the same entry)."""
    carried = node.modifier("%^")
    if carried is None:
        return node
    items = []
    changed = False
    for item in carried.items:
        declaration = next((s for s in item.suffixes if isinstance(s, ElementDeclaration)), None) if isinstance(item, ConceptRef) else None
        if declaration is None or declaration.carry is None:
            items.append(item)
            continue
        base = _concept_of(declaration.base, item)
        if base is None:
            items.append(item)
            continue
        version = f"*-{declaration.carry}"
        items.append(ConceptRef(base.kind, base.core, (*base.suffixes, LoopVersion(version, (-declaration.carry,), declaration.span)), item.span))
        changed = True
    if not changed:
        return node
    argument = "(" + items[0].text + ")" if len(items) == 1 and carried.form is ArgForm.SINGLE else "[" + ", ".join(i.text for i in items) + "]"
    replacement = dataclasses.replace(carried, items=tuple(items), argument=argument, form=ArgForm.SINGLE if argument.startswith("(") else ArgForm.LIST)
    return dataclasses.replace(node, modifiers=tuple(replacement if m is carried else m for m in node.modifiers))


_CORE = re.compile(r"^(\{.*\}|\[.*\]|<.*>)$", re.S)


def _concept_of(text: str, near: ConceptRef) -> ConceptRef | None:
    """The concept named by an element declaration's argument (`{total}` in `<$({total})*-1>`)."""
    text = text.strip()
    if not _CORE.match(text):
        return None
    kind = {"{": "object", "[": "relation", "<": "proposition"}[text[0]]
    return ConceptRef(type(near.kind)(kind), text, (), near.span)


# ------------------------------------------------------------------ bare timing (FIDELITY §6.3)


def _bare_timing(lines: list[ConceptLine], line: ConceptLine, node: Operator) -> Operator:
    """`<= @:'` with no condition takes the single `<*` child of the gated line as its condition (for `@:'`/`@:!`
    a proposition). None or several: left alone, so NCD212 reports the missing condition."""
    gated = lines[line.parent] if line.parent is not None else None
    if gated is None:
        return node
    contexts = [lines[i] for i in gated.children if lines[i].marker is Marker.CONTEXT and lines[i].concept is not None]
    if len(contexts) != 1:
        return node
    condition = contexts[0].concept
    assert condition is not None
    if node.op in ("@:'", "@:!") and condition.kind.value != "proposition":
        return node
    plain = ConceptRef(condition.kind, condition.core, tuple(s for s in condition.suffixes if isinstance(s, (LoopVersion, IdentificationMarker))), condition.span)
    argument = f"({plain.text})"
    modifier = Modifier("%>", ArgForm.SINGLE, argument, (plain,), "", "", line.payload_span)
    # A documented grammar form (`Timing ::= (…) Condition?`), not listed among the NCD917 spellings: no
    # diagnostic; the `<*` line stays the gate's declared condition (NCD924 is satisfied).
    return Operator(node.op, (modifier,), True, node.span)


def _declared_contexts(lines: list[ConceptLine], result_line: ConceptLine) -> list[ConceptRef]:
    return [
        lines[i].concept  # type: ignore[misc]
        for i in result_line.children
        if lines[i].marker is Marker.CONTEXT and lines[i].concept is not None
    ]


def _carried_key(concept: ConceptRef) -> tuple[str, int] | None:
    """(X, N) of a carried name: `X*-N`, or `{x}<$(X)*-N>` which names `X*-N` (FIDELITY §3.6)."""
    declaration = next((s for s in concept.suffixes if isinstance(s, ElementDeclaration)), None)
    if declaration is not None and declaration.carry is not None:
        return declaration.base.strip(), declaration.carry
    versions = [s for s in concept.suffixes if isinstance(s, LoopVersion)]
    if versions and len(versions[-1].versions) == 1 and versions[-1].versions[0] < 0:
        return concept.core, -versions[-1].versions[0]
    return None


def _loop_declarations(lines: list[ConceptLine], star: ConceptLine, node: Operator, reporter: Reporter) -> None:
    """FIDELITY §3.6, E21: the inline element `%>(B<$({x})*>)` as the sole declaration, and a `%^` entry without a
    `<*` declaration, are accepted spellings (NCD917); the entry is compiled as if `<* X*-N` were written (a
    synthetic context line appended under the loop's result line, so the loop model sees one form)."""
    assert star.parent is not None
    result_line = lines[star.parent]
    contexts = _declared_contexts(lines, result_line)
    base = _single_concept(node.modifier("%>"))
    if base is not None:
        inline = next((s for s in base.suffixes if isinstance(s, ElementDeclaration) and s.carry is None), None)
        declares_element = any(
            isinstance(s, ElementDeclaration) and s.carry is None for c in contexts for s in c.suffixes
        )
        if inline is not None and not declares_element:
            preferred = f"<* {inline.base}<$({base.core})*>"
            reporter.at(
                "NCD917",
                inline.span,
                f"the inline element declaration `{base.text}` is an accepted spelling; the preferred form is a "
                f"`{preferred}` line beside the `*.` line",
                help=f"write `%>({base.core})` and `{preferred}`",
            )
    carried = node.modifier("%^")
    if carried is None:
        return
    declared = {key for key in (_carried_key(c) for c in contexts) if key is not None}
    for item in carried.items:
        if not isinstance(item, ConceptRef):
            continue
        key = _carried_key(item)
        if key is None or key in declared:
            continue
        if any(other[0] == key[0] for other in declared):
            continue  # same X, other N: contradicts the `<*` declaration (NCD507, checks layer)
        declared.add(key)
        name = f"{key[0]}*-{key[1]}"
        reporter.at(
            "NCD917",
            item.span,
            f"the carried name `{name}` is listed in `%^` only; the preferred form adds the line `<* {name}` "
            f"beside the `*.` line (it is compiled that way)",
            help=f"add `<* {name}` under the loop's result line",
        )
        _append_context_line(lines, result_line, star, item, name)


def _append_context_line(
    lines: list[ConceptLine], result_line: ConceptLine, star: ConceptLine, item: ConceptRef, name: str
) -> None:
    """Append the synthetic `<* X*-N` line as the last child of the loop's result line. It is placed after every
    written line (positions of written lines never change) and points at the `%^` entry for its spans."""
    from ncdc.parse import PayloadParser

    parser = PayloadParser(item.span.line, item.span.column)
    concept = parser.parse(name, Marker.CONTEXT)
    if not isinstance(concept, ConceptRef):
        return
    index = len(lines)
    number = len(result_line.children) + 1
    synthetic = ConceptLine(
        index=index,
        marker=Marker.CONTEXT,
        depth=result_line.depth + 1,
        indent=star.indent,
        payload=name,
        node=concept,
        parent=result_line.index,
        children=(),
        flow_index=f"{result_line.flow_index}.{number}",
        heads_only_index=None,
        span=item.span,
        payload_span=item.span,
        source=star.source,
    )
    lines.append(synthetic)
    lines[result_line.index] = dataclasses.replace(result_line, children=(*result_line.children, index))


# ------------------------------------------------------------------ timing as a value's function (FIDELITY §3.11, E13)


def _timing_as_function(lines: list[ConceptLine], value: ConceptLine, reporter: Reporter) -> None:
    """A value line P whose first child is a timing line T without children is a gated selection: compiled as
    `P <= $. %>(P) %<[C1, …, Ck]` gated by T (C1…Ck: P's `<-` children other than T's condition, in source
    order). The `$.` line takes T's place (so it has T's flow index, and the gate inference keyed by it too);
    T and a `<* condition` line are appended as its children, which is the preferred form's shape. NCD928."""
    if value.marker not in _VALUE_MARKERS or not value.children or value.concept is None:
        return
    timing = lines[value.children[0]]
    node = timing.node
    if not (isinstance(node, Operator) and node.family == "timing") or timing.children:
        return
    operand = node.modifier("%>")
    condition = operand.items[0] if operand is not None and len(operand.items) == 1 else None
    if not isinstance(condition, ConceptRef):
        return  # NCD212 reports the missing condition
    cti = value.concept
    result = ConceptRef(cti.kind, cti.core, tuple(s for s in cti.suffixes if isinstance(s, (LoopVersion, IdentificationMarker))), cti.span)
    candidates = []
    for index in value.children[1:]:
        child = lines[index]
        concept = child.concept
        if child.marker is not Marker.VALUE or concept is None or concept.canonical_name == condition.canonical_name:
            continue
        candidates.append(ConceptRef(concept.kind, concept.core, tuple(s for s in concept.suffixes if isinstance(s, (LoopVersion, IdentificationMarker))), concept.span))
    span = timing.payload_span
    modifiers = [Modifier("%>", ArgForm.SINGLE, f"({result.text})", (result,), " ", "", span)]
    if candidates:
        argument = "[" + ", ".join(c.text for c in candidates) + "]"
        modifiers.append(Modifier("%<", ArgForm.LIST, argument, tuple(candidates), " ", "", span))
    selection = Operator("$.", tuple(modifiers), False, node.span)
    preferred = selection.text
    reporter.report(
        "NCD928",
        span.line,
        span.column,
        f"timing operator `{node.text}` as the function of {cti.canonical_name}: compiled as `{preferred}` gated "
        f"by it — {cti.canonical_name} is the first non-Skip candidate, or Skip when the gate does not pass",
        end_column=span.end_column,
        help=f"write `<= {preferred}` with `<= {node.text}` and `<* {condition.text}` nested under it",
    )
    gate_index = len(lines)
    context_index = gate_index + 1
    lines[timing.index] = dataclasses.replace(
        timing, node=selection, payload=preferred, children=(gate_index, context_index)
    )
    lines.append(
        dataclasses.replace(
            timing,
            index=gate_index,
            depth=timing.depth + 1,
            parent=timing.index,
            children=(),
            flow_index=f"{timing.flow_index}.1",
            heads_only_index=None,
        )
    )
    plain = ConceptRef(condition.kind, condition.core, tuple(s for s in condition.suffixes if isinstance(s, (LoopVersion, IdentificationMarker))), condition.span)
    lines.append(
        ConceptLine(
            index=context_index,
            marker=Marker.CONTEXT,
            depth=timing.depth + 1,
            indent=timing.indent,
            payload=plain.text,
            node=plain,
            parent=timing.index,
            children=(),
            flow_index=f"{timing.flow_index}.2",
            heads_only_index=None,
            span=timing.span,
            payload_span=span,
            source=timing.source,
        )
    )


# ------------------------------------------------------------------ axis-list arguments (FIDELITY §3.9, §5, E24)

_LOOP_VERSIONS = re.compile(r"(\*-?\d+)+$")
_PROTECTED = re.compile(r"^(\{[^{}]*\})<\$!=?\{[^{}]*\}>$")


def axis_item_name(text: str) -> str | None:
    """An axis name from one `%:` item: a bare name or a braced concept (`{row}` → `row`, `<a b>` → `a b`),
    loop-version suffixes dropped, `{x}<$!{p}>` → `x` (E24); None when anything else is left (brackets,
    parentheses, an empty name)."""
    text = text.strip()
    protected = _PROTECTED.match(text)
    if protected:
        text = protected.group(1)
    text = _LOOP_VERSIONS.sub("", text).strip()
    # `{row}` and `<signal status>` (gold_example.ncd:42) name the axis by a concept; `[x]` stays malformed: inside
    # an axis list it reads as a nested list.
    if (text.startswith("{") and text.endswith("}")) or (text.startswith("<") and text.endswith(">")):
        text = text[1:-1].strip()
    if not text or any(c in text for c in "{}[]()<>"):
        return None
    return text


def _split(text: str) -> list[str]:
    from ncdc.parse import split_top_level

    return [part for part, _ in split_top_level(text)]


def _depth(value: object) -> int:
    if not isinstance(value, list):
        return 0
    return 1 + max((_depth(v) for v in value), default=0)


def _axis_list_problems(lines: list[ConceptLine], line: ConceptLine, node: Operator, reporter: Reporter) -> None:
    """NCD117 for a `%:` argument (of `$%`, groupings, `$+`, `$-`) whose items are not axis names, and for a `$%`
    with more `%:` names than its face value's list nesting depth (§3.9, §5(c))."""
    modifier = node.modifier("%:")
    if modifier is None:
        return
    text = modifier.argument.strip()
    if text.startswith("(") and text.endswith(")") and text[1:-1].strip().startswith("["):
        text = text[1:-1].strip()  # `%:([a, b])` is `%:[a, b]`
    inner = text[1:-1] if text[:1] in "([" and text[-1:] in ")]" else text
    items = [item.strip() for item in _split(inner)] if text.startswith("[") else [inner.strip()]
    if node.family == "grouping" and text.startswith("[") and items and all(i.startswith("(") and i.endswith(")") for i in items):
        items = [part.strip() for item in items for part in _split(item[1:-1])]  # per-source form `%:[(a), (b)]`
    bad = next((item for item in items if axis_item_name(item) is None), None)
    if bad is not None:
        reporter.at(
            "NCD117",
            modifier.span,
            f"malformed argument of `%:` for `{node.op}`: `{bad}` is not an axis name (a bare name or `{{name}}`)",
            help="write the axis names as a list, e.g. `%:[row, column]` or `%:([{row}, {column}])`",
        )
        return
    if node.op == "$%":
        face = node.modifier("%>")
        value = face.items[0] if face is not None and len(face.items) == 1 else None
        from ncdc.ir import JsonValue

        if isinstance(value, JsonValue) and isinstance(value.value, list) and len(items) > _depth(value.value):
            reporter.at(
                "NCD117",
                modifier.span,
                f"malformed argument of `%:` for `$%`: {len(items)} axis names for a face value nested "
                f"{_depth(value.value)} level(s) deep",
                help="name at most one axis per nesting level, e.g. `%:[" + ", ".join(axis_item_name(i) or "" for i in items[: _depth(value.value)]) + "]`",
            )
