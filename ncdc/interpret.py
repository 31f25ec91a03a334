"""``working_interpretation`` of each inference (REPOSITORY_FORMAT.md §3.3), keys in the format's order.

The caller adds ``workspace`` and ``flow_info`` in front. Everything here is derived from the plan model.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ncdc.annotation_keys import is_literal_key
from ncdc.ir import (
    AgentKind,
    AngleForm,
    Binding,
    ConceptRef,
    JsonValue,
    Operator,
    Protection,
    Semantic,
    Sign,
)
from ncdc.plan import Inference, annotation_concepts, parse_axes

if TYPE_CHECKING:
    from ncdc.emit import ConceptTable

_ASSIGN_MARKER = {"$=": "=", "$%": "%", "$.": ".", "$+": "+", "$-": "-"}
_TIMING_MARKER = {"@:'": "if", "@:!": "if!", "@.": "after"}
_QUANTIFIER_AXIS_DEFAULT = "axis"


def working_interpretation(table: "ConceptTable", inference: Inference, values: list[str]) -> dict[str, Any]:
    node = inference.functional
    if isinstance(node, Semantic):
        return _semantic(table, inference, node, values)
    assert isinstance(node, Operator)
    if node.family == "timing":
        condition = inference.values[0].name if inference.values else None
        return {"syntax": {"marker": _TIMING_MARKER[node.op], "condition": condition}, "blackboard": None}
    if node.family == "looping":
        return {"syntax": _looping(table, inference, node)}
    if node.family == "grouping":
        return {"syntax": _grouping(table, inference, node)}
    return {"syntax": _assigning(table, inference, node)}


# ------------------------------------------------------------------ semantic


def paradigm_name(value: str) -> str | None:
    match = re.match(r"^[^\s(]+", value.strip())
    return match.group(0) if match else None


def output_kind(paradigm: str | None) -> str | None:
    """The output part of a paradigm name: its last ``-``-separated segment starting with ``o_`` (RT§5.5)."""
    if not paradigm:
        return None
    parts = [p for p in paradigm.split("-") if p.startswith("o_")]
    return parts[-1] if parts else None


def is_list_kind(paradigm: str | None) -> bool:
    """A list kind spreads a list answer along ``output_axis``: its output part contains ``List`` (case-sensitive,
    FIDELITY §1, E24). Without a paradigm (a Python binding alone, the default LLM executor) it is not one."""
    kind = output_kind(paradigm)
    return kind is not None and "List" in kind


def _bare_name(name: str) -> str:
    """A concept's name without its outer brackets: ``[concept lines]`` → ``concept lines``."""
    if len(name) >= 2 and name[0] in "{[<(" and name[-1] in "}]>)":
        return name[1:-1].strip()
    return name


def python_binding(line) -> dict[str, str] | None:
    python = line.annotation("python")
    if python is not None:
        match = re.match(r"^(?P<path>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$", python.value.strip())
        if match:
            return {"path": match.group("path"), "function": match.group("function")}
        return None
    provision = line.annotation("v_input_provision")
    function = line.annotation("v_function_name")
    if provision is not None and function is not None:
        paths = [p for p in provision.value.replace(",", " ").split() if p]
        if paths and paths[0].endswith(".py") and function.value.strip():
            return {"path": paths[0], "function": function.value.strip()}
    if provision is not None and function is None:
        # FIDELITY §3.14: the reference's script paradigms (composition part containing `Execute`) call `main()`.
        paths = [p for p in provision.value.replace(",", " ").split() if p]
        norm = line.annotation("norm_input") or line.annotation("paradigm")
        paradigm = re.split(r"[\s(]", norm.value.strip(), maxsplit=1)[0] if norm is not None else ""
        composition = next((part for part in paradigm.split("-") if part.startswith("c_")), "")
        if paths and paths[0].endswith(".py") and "Execute" in composition:
            return {"path": paths[0], "function": "main"}
    return None


def value_order(inference: Inference) -> dict[str, int]:
    explicit = inference.function_line.annotation("value_order")
    if explicit is not None:
        names = [ref.canonical_name for ref in annotation_concepts(explicit)]
        return {name: position for position, name in enumerate(names, 1)}
    bound: list[tuple[int, str]] = []
    for use in inference.values:
        for suffix in use.concept.suffixes:
            if isinstance(suffix, Binding):
                bound.append((suffix.slot, use.name))
                break
    if bound:
        return {name: slot for slot, name in sorted(bound)}
    return {use.name: position for position, use in enumerate(inference.values, 1)}


def _split_list(value: str) -> list[str]:
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "{[<(":
            depth += 1
        elif c in "}]>)":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _bool(value: str) -> bool:
    return value.strip().lower() == "true"


def value_selectors(table: "ConceptTable", inference: Inference, order: dict[str, int]) -> dict[str, dict[str, Any]]:
    lines = {use.name: use.line for use in inference.values}
    selectors: dict[str, dict[str, Any]] = {}
    for name in order:
        line = lines.get(name)
        selector: dict[str, Any] = {}
        grouped = any(p.sequence == "grouping" for p in table.model.producers.get(name, ()))
        if line is not None:
            packed = line.annotation("selector_packed")
            if packed is not None:
                selector["packed"] = _bool(packed.value)
            elif grouped:
                selector["packed"] = True
            for key, out in (("selector_unpack", "unpack"), ("selector_collapse", "collapse")):
                annotation = line.annotation(key)
                if annotation is not None:
                    selector[out] = _bool(annotation.value)
            source = line.annotation("selector_source")
            if source is not None:
                selector["source_concept"] = source.value.strip()
            key_annotation = line.annotation("selector_key")
            if key_annotation is not None:
                selector["key"] = key_annotation.value.strip()
            index = line.annotation("selector_index")
            if index is not None and re.match(r"^-?\d+$", index.value.strip()):
                selector["index"] = int(index.value.strip())
        elif grouped:
            selector["packed"] = True
        if selector:
            selectors[name] = selector
    return selectors


def assertion_condition(table: "ConceptTable", node: Semantic) -> dict[str, Any]:
    assert node.assertion is not None
    quantifiers: dict[str, str] = {}
    for clause in node.assertion.clauses:
        if clause.concept is None:
            key = _QUANTIFIER_AXIS_DEFAULT
        else:
            axes = table.axes(clause.concept) if clause.concept in table.value_lines else None
            if axes and axes[0] != "_none_axis":
                key = axes[0]
            else:
                key = clause.concept[1:-1]
        quantifiers.setdefault(key, clause.quantifier)
    return {"quantifiers": quantifiers, "condition": node.assertion.condition}


def _semantic(table: "ConceptTable", inference: Inference, node: Semantic, values: list[str]) -> dict[str, Any]:
    line = inference.function_line
    norm = line.annotation("norm_input") or line.annotation("paradigm")
    order = value_order(inference)
    paradigm = paradigm_name(norm.value) if norm is not None else None
    output_axis = None
    # FIDELITY §1: the paradigm's output kind, never the declared axes, decides whether an answer is spread
    if node.assertion is None and is_list_kind(paradigm):
        declared = set()
        for name in order:
            declared.update(a for a in table.axes(name) if a != "_none_axis")
        output_axis = next((a for a in table.axes(inference.cti) if a != "_none_axis" and a not in declared),
                           None) or _bare_name(inference.cti)
    result: dict[str, Any] = {
        "paradigm": paradigm,
        "body_faculty": line.annotation("body_faculty").value.strip() if line.annotation("body_faculty") else None,
        "value_order": order,
        "value_selectors": value_selectors(table, inference, order),
        "output_axis": output_axis,
    }
    binding = python_binding(line)
    if binding is not None:
        result["python_binding"] = binding
    placement = _output_placeholder(table, inference)
    if placement is not None:
        result["output_placeholder"] = placement  # FIDELITY §6.2, E15: only with an output placement
    if node.agent.kind is AgentKind.INPUT:
        result["is_external_input"] = True
    elif node.assertion is not None:
        result["assertion_condition"] = assertion_condition(table, node)
    return result


def _output_placeholder(table: "ConceptTable", inference: Inference) -> int | None:
    """The slot N of an output placement child `<- {cti}<:{N}>` (FIDELITY §6.2), else None."""
    lines = table.model.plan.lines
    for index in inference.cti_line.children:
        line = lines[index]
        if line.output_placement and line.concept is not None:
            binding = next((s for s in line.concept.suffixes if isinstance(s, Binding)), None)
            if binding is not None:
                return binding.slot
    return None


# ------------------------------------------------------------------ syntactic


def _name(item) -> str | None:
    return item.canonical_name if isinstance(item, ConceptRef) else None


def _operand(node: Operator, op: str) -> str | None:
    modifier = node.modifier(op)
    if modifier is None or len(modifier.items) != 1:
        return None
    return _name(modifier.items[0])


def _axis_item(text: str) -> str:
    """One axis-list item as an axis name (L§2.3 as amended by FIDELITY §3.9): ``{row}`` → ``row``, loop-version
    suffixes dropped, ``{x}<$!{p}>`` → ``x`` (E24). Anything else is kept as written (NCD117 reports it)."""
    text = text.strip()
    text = re.sub(r"<\$!\{[^{}]*\}>$", "", text).strip()
    text = re.sub(r"(\*-?\d+)+$", "", text).strip()
    if text[:1] == "{" and text[-1:] == "}":
        text = text[1:-1].strip()
    return text


def _axis_list_text(node: Operator, op: str) -> str | None:
    """The text of an axis-list modifier with one redundant pair of parentheses removed: ``%:([a, b])`` is
    ``%:[a, b]`` (FIDELITY §3.9)."""
    modifier = node.modifier(op)
    if modifier is None:
        return None
    text = modifier.argument.strip()
    if text.startswith("(") and text.endswith(")") and text[1:-1].strip().startswith("["):
        text = text[1:-1].strip()
    return text


def _axis_names(node: Operator, op: str) -> list[str] | None:
    """Axis names of a modifier, one or a list, braces stripped: ``%:({a})`` / ``%:[a, {b}]`` / ``%:([a, {b}])``
    → ``["a", "b"]``."""
    text = _axis_list_text(node, op)
    if text is None:
        return None
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    elif text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [name for name in (_axis_item(part) for part in _split_list(text)) if name]


def _per_source_axes(node: Operator, count: int) -> list[list[str]] | None:
    """Grouping ``%:[(a1), (a2), …]`` with exactly one parenthesised item per source: the per-source form, the same
    as ``%-[[a1], [a2], …]`` (FIDELITY §3.9)."""
    text = _axis_list_text(node, "%:")
    if text is None or not (text.startswith("[") and text.endswith("]")):
        return None
    parts = [p.strip() for p in _split_list(text[1:-1])]
    if len(parts) != count or not all(p.startswith("(") and p.endswith(")") for p in parts):
        return None
    return [[name for name in (_axis_item(x) for x in _split_list(p[1:-1])) if name] for p in parts]


def _bare(node: Operator, op: str) -> str | None:
    """A name operand with braces stripped (``%:({axis})`` → ``axis``)."""
    modifier = node.modifier(op)
    if modifier is None:
        return None
    text = modifier.argument[1:-1].strip()
    if text[:1] in "{[<" and text[-1:] in "}]>":
        text = text[1:-1].strip()
    return text


def _loop_axis_operand(node: Operator) -> str | None:
    """The `*.` `%:` operand as an axis name: braces and loop-version suffixes removed (``%:({doc}*1)`` → ``doc``)."""
    text = _bare(node, "%:")
    if text is None:
        return None
    text = re.sub(r"(\*-?\d+)+$", "", text.strip()).strip()
    if text[:1] in "{[<" and text[-1:] in "}]>":
        text = text[1:-1].strip()
    return text or None


def assign_sources(table: "ConceptTable", inference: Inference) -> list[str]:
    """The ``$.`` candidate list (§3.3, first rule that applies)."""
    return [name for name, _ in table.model.assign_candidates(inference)]


def _face_value(inference: Inference, node: Operator) -> Any:
    for annotation in inference.function_line.annotations:
        if annotation.sigil == "%" and is_literal_key(annotation.key):
            return annotation.value.strip()
    modifier = node.modifier("%>")
    if modifier is None or not modifier.items:
        return None
    item = modifier.items[0]
    if isinstance(item, Sign):
        return item.text
    if isinstance(item, JsonValue):
        return item.value
    return item.text


def _selector(node: Operator) -> dict[str, Any]:
    modifier = node.modifier("%^")
    selector: dict[str, Any] = {}
    if modifier is None:
        return selector
    forms: list[str] = []
    for item in modifier.items:
        forms.append(item.text if isinstance(item, AngleForm) else item.text)
    for position, text in enumerate(forms):
        text = text.strip()
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        match = re.match(r"^<\$\*(-?\d+)>$", text)
        if match:
            selector["index"] = int(match.group(1))
            continue
        if text == "<$*#>":
            if position + 1 < len(forms):
                selector["unpack_before_selection"] = True
            else:
                selector["unpack"] = True
            continue
        match = re.match(r"^<\$\((.+)\)%>$", text)
        if match:
            selector["key"] = match.group(1)
    return selector


def _assigning(table: "ConceptTable", inference: Inference, node: Operator) -> dict[str, Any]:
    marker = _ASSIGN_MARKER[node.op]
    if marker == "=":
        return {"marker": "=", "canonical_concept": _operand(node, "%>"), "alias_concept": inference.cti}
    if marker == "%":
        # FIDELITY §5: the `%:` names, else the cti's declared axes other than `_none_axis`, else one element
        axis_names = _axis_names(node, "%:")
        if not axis_names:
            axis_names = [a for a in table.axes(inference.cti) if a != "_none_axis"] or ["_none_axis"]
        return {"marker": "%", "face_value": _face_value(inference, node), "axis_names": axis_names}
    if marker == ".":
        return {"marker": ".", "assign_source": assign_sources(table, inference), "assign_destination": inference.cti}
    if marker == "+":
        axis = _bare(node, "%:")
        return {
            "marker": "+",
            "assign_source": _operand(node, "%<"),
            "assign_destination": _operand(node, "%>"),
            "by_axes": [axis] if axis else [],
        }
    return {"marker": "-", "assign_source": _operand(node, "%>"), "selector": _selector(node), "axis": _bare(node, "%:")}


def _grouping(table: "ConceptTable", inference: Inference, node: Operator) -> dict[str, Any]:
    sources_modifier = node.modifier("%>")
    sources = [n for n in (_name(i) for i in (sources_modifier.items if sources_modifier else ())) if n is not None]
    if sources_modifier is None:
        sources = [use.name for use in inference.values]  # FIDELITY §3.2: a bare grouping groups its `<-` children
    protect: list[str] = []
    protection = node.modifier("%^")
    if protection is not None:
        for item in protection.items:
            if isinstance(item, AngleForm) and isinstance(item.suffix, Protection):
                protect.append(item.suffix.axis)
    per_source: list[list[str]] | None = None
    by_axes_annotation = inference.function_line.annotation("by_axes")
    if by_axes_annotation is not None:
        per_source = [parse_axes(part) for part in _split_list(by_axes_annotation.value)]
    collapse = node.modifier("%-")
    collapse_lists = [parse_axes(item.text) for item in collapse.items] if collapse is not None else None
    colon = _axis_list_text(node, "%:")
    if colon is not None:
        # E24: `{x}<$!{p}>` inside `%:` names the axis `x` and protects `p`.
        for protected in re.findall(r"<\$!=?\{([^{}]*)\}>", colon):
            if protected not in protect:
                protect.append(protected)
    per_source_colon = _per_source_axes(node, len(sources))
    common_axes = _axis_names(node, "%:") if per_source_colon is None else None
    lines = {use.name: use.line for use in inference.values}
    by_axes: list[list[str]] = []
    for position, source in enumerate(sources):
        line = lines.get(source)
        own = line.annotation("collapse_in_grouping") if line is not None else None
        if own is not None:
            by_axes.append(parse_axes(own.value))
        elif per_source is not None and position < len(per_source):
            by_axes.append(per_source[position])
        elif collapse_lists is not None and position < len(collapse_lists):
            by_axes.append(collapse_lists[position])
        elif per_source_colon is not None:
            by_axes.append(per_source_colon[position])
        elif common_axes is not None:
            by_axes.append(list(common_axes))
        else:
            by_axes.append([a for a in table.axes(source) if a not in protect and a != "_none_axis"])
    create_axis = _bare(node, "%+")
    if create_axis is None:
        result_axes = [a for a in table.axes(inference.cti) if a != "_none_axis"]
        source_axes = {a for s in sources for a in table.axes(s)}
        if len(result_axes) == 1 and result_axes[0] not in source_axes:
            create_axis = result_axes[0]
    return {
        "marker": "in" if node.op == "&[{}]" else "across",
        "sources": sources,
        "by_axes": by_axes,
        "protect_axes": protect,
        "create_axis": create_axis,
    }


def _looping(table: "ConceptTable", inference: Inference, node: Operator) -> dict[str, Any]:
    loop = inference.loop
    assert loop is not None
    element = loop.element_name
    group_base = None
    annotation = inference.function_line.annotation("group_base")
    if annotation is not None:
        group_base = annotation.value.strip()
    # R§3.3 as amended by FIDELITY §2: `%:` names the loop axis (not the element), and is optional
    if group_base is None:
        group_base = _loop_axis_operand(node)
    if group_base is None and loop.element is not None:
        axes = [a for a in table.axes(loop.element.canonical_name) if a != "_none_axis"]
        group_base = axes[0] if axes else None
    if group_base is None and loop.base is not None:
        axes = [a for a in table.axes(loop.base.canonical_name) if a != "_none_axis"]
        group_base = axes[0] if axes else None
    if group_base is None and element is not None:
        group_base = _bare_name(re.sub(r"(\*-?\d+)+$", "", element))
    syntax: dict[str, Any] = {
        "marker": "every",
        "loop_index": loop.index,
        "LoopBaseConcept": loop.base.canonical_name if loop.base else None,
        "CurrentLoopBaseConcept": element,
        "group_base": group_base,
        "ConceptToInfer": [loop.result.canonical_name] if loop.result else [],
        "InLoopConcept": {
            concept: {"current_name": name, "carry_over": n, "initial_concept": initial}
            for concept, (name, n, initial) in loop.carried.items()
        },
    }
    output_axis = _bare(node, "%+")
    if output_axis is not None:
        syntax["output_axis"] = output_axis
    return syntax

