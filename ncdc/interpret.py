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
    declared = set()
    for name in order:
        declared.update(a for a in table.axes(name) if a != "_none_axis")
    output_axis = next((a for a in table.axes(inference.cti) if a != "_none_axis" and a not in declared), None)
    result: dict[str, Any] = {
        "paradigm": paradigm_name(norm.value) if norm is not None else None,
        "body_faculty": line.annotation("body_faculty").value.strip() if line.annotation("body_faculty") else None,
        "value_order": order,
        "value_selectors": value_selectors(table, inference, order),
        "output_axis": output_axis,
    }
    binding = python_binding(line)
    if binding is not None:
        result["python_binding"] = binding
    if node.agent.kind is AgentKind.INPUT:
        result["is_external_input"] = True
    elif node.assertion is not None:
        result["assertion_condition"] = assertion_condition(table, node)
    return result


# ------------------------------------------------------------------ syntactic


def _name(item) -> str | None:
    return item.canonical_name if isinstance(item, ConceptRef) else None


def _operand(node: Operator, op: str) -> str | None:
    modifier = node.modifier(op)
    if modifier is None or len(modifier.items) != 1:
        return None
    return _name(modifier.items[0])


def _axis_names(node: Operator, op: str) -> list[str] | None:
    """Axis names of a modifier, one or a list, braces stripped: ``%:({a})`` / ``%:[a, {b}]`` → ``["a", "b"]``."""
    modifier = node.modifier(op)
    if modifier is None:
        return None
    return parse_axes("[" + ", ".join(item.text for item in modifier.items) + "]")


def _bare(node: Operator, op: str) -> str | None:
    """A name operand with braces stripped (``%:({axis})`` → ``axis``)."""
    modifier = node.modifier(op)
    if modifier is None:
        return None
    text = modifier.argument[1:-1].strip()
    if text[:1] in "{[<" and text[-1:] in "}]>":
        text = text[1:-1].strip()
    return text


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
        axis_names = _axis_names(node, "%:")
        if axis_names is None:
            axis_names = table.axes(inference.cti)
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
    common_axes = _axis_names(node, "%:")
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
    if group_base is None and loop.element is not None:
        axes = [a for a in table.axes(loop.element.canonical_name) if a != "_none_axis"]
        group_base = axes[0] if axes else None
    if group_base is None:
        group_base = _bare(node, "%:")
    if group_base is None and loop.base is not None:
        group_base = table.axes(loop.base.canonical_name)[0]
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

