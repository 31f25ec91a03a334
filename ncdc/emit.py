"""The concept and inference repositories (REPOSITORY_FORMAT.md §2, §3), built from the plan model.

Both are plain lists of dicts whose key order is the order of the format's field tables; ``ncdc.format``
holds the pydantic models that validate them, and ``ncdc.compile`` serialises them (§1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ncdc.annotation_keys import PERCEPTION_KEYS, START_FLAGS, is_literal_key
from ncdc.ids import concept_id, inference_ids, sign, signature
from ncdc.interpret import _axis_names, working_interpretation
from ncdc.ir import AgentKind, ConceptKind, ConceptLine, Marker, Operator, Semantic
from ncdc.plan import Inference, PlanModel, declared_data, flow_key, functional_text, ground_declaration, parse_axes

_TYPE_OF_KIND = {ConceptKind.OBJECT: "{}", ConceptKind.RELATION: "[]", ConceptKind.PROPOSITION: "<>", ConceptKind.SUBJECT: ":S:"}
_PROMPT_SUFFIXES = (".md", ".txt", ".j2", ".jinja")


@dataclass
class Repositories:
    concepts: list[dict[str, Any]]
    inferences: list[dict[str, Any]]
    signatures: list[str]  # per inference, flow order
    definitions: list[dict[str, Any]]  # the signature objects D (§5.1), for the schedule and reconciliation


class ConceptTable:
    """Per-concept facts the repositories and the schedule share (names, lines, ground, axes, data)."""

    def __init__(self, model: PlanModel) -> None:
        self.model = model
        self.line_name: dict[int, str] = dict(model.line_name)  # line index -> the name it contributes
        self.value_lines: dict[str, list[ConceptLine]] = model.lines_naming
        self.function_lines: dict[str, list[ConceptLine]] = {}
        for line in model.plan.lines:
            if line.marker is Marker.FUNCTION:
                text = functional_text(line)
                if text is not None:
                    self.line_name[line.index] = text
                    self.function_lines.setdefault(text, []).append(line)

    def first_producing_line(self, name: str) -> ConceptLine | None:
        producers = self.model.producers.get(name)
        return producers[0].cti_line if producers else None

    def ground_line(self, name: str) -> tuple[ConceptLine, str] | None:
        for line in self.value_lines.get(name, ()):
            kind = ground_declaration(line)
            if kind is not None:
                return line, kind
        return None

    def is_ground(self, name: str) -> bool:
        """Function concepts are always ground; value concepts follow the model (R§2.5)."""
        return name in self.function_lines or self.model.is_ground(name)

    def axes(self, name: str) -> list[str]:
        for line in self.value_lines.get(name, ()):
            annotation = line.annotation("ref_axes")
            if annotation is not None:
                return parse_axes(annotation.value) or ["_none_axis"]
        # R§2.7 (FIDELITY §5): a `$%` cti without `%{ref_axes}` is declared along its `%:` names
        for producer in self.model.producers.get(name, ()):
            node = producer.functional
            if isinstance(node, Operator) and node.op == "$%":
                names = _axis_names(node, "%:")
                if names:
                    return names
        return ["_none_axis"]

    def reference_data(self, name: str) -> list[Any] | None:
        if name in self.function_lines:
            return function_reference_data(self.function_lines[name][0])
        if not self.is_ground(name):
            return None
        found = self.ground_line(name)
        if found is None:
            return None
        line, _ = found
        data = declared_data(line)
        return data.reference_data if data is not None else None

    def ground_origin(self, name: str) -> str:
        found = self.ground_line(name)
        if found is None:
            return "inputs"
        line, kind = found
        if kind == "literal":
            for annotation in line.annotations:
                if is_literal_key(annotation.key) and annotation.value.strip() == "(runtime provided)":
                    return "declared"
            return "literal"
        if kind in PERCEPTION_KEYS:
            return kind
        return "declared"

    def is_invariant(self, name: str) -> bool:
        for line in self.value_lines.get(name, ()):
            annotation = line.annotation("is_invariant")
            if annotation is not None and annotation.value.strip().lower() == "true":
                return True
        for inference in self.model.loop_provided.get(name, ()):
            loop = inference.loop
            if loop is not None and any(carried[0] == name for carried in loop.carried.values()):
                return True
        return name in self.appended_in_loops

    @cached_property
    def appended_in_loops(self) -> frozenset[str]:
        """Destinations of ``$+`` appends inside a loop body: invariant (R§2.6)."""
        return frozenset(
            destination
            for inference in self.model.inferences
            if inference.enclosing_loops and (destination := append_destination(inference)) is not None
        )

    def element_type(self, name: str) -> str | None:
        producing = self.first_producing_line(name)
        if producing is not None and producing.annotation("ref_element") is not None:
            return producing.annotation("ref_element").value.strip()  # type: ignore[union-attr]
        for line in self.value_lines.get(name, ()):
            annotation = line.annotation("ref_element")
            if annotation is not None:
                return annotation.value.strip()
        return None


def append_destination(inference: Inference) -> str | None:
    """The ``%>`` destination of a ``$+`` inference, else None."""
    node = inference.functional
    if isinstance(node, Operator) and node.op == "$+":
        modifier = node.modifier("%>")
        if modifier is not None and len(modifier.items) == 1:
            return getattr(modifier.items[0], "canonical_name", None)
    return None


def function_reference_data(line: ConceptLine) -> list[str] | None:
    """§2.4: a semantic function's prompt or script sign; ``null`` for syntactic operators."""
    node = line.node
    if not isinstance(node, Semantic):
        return None
    prompt = line.annotation("prompt")
    if prompt is not None and prompt.value.strip():
        return [sign("prompt_location", prompt.value.strip())]
    provision = line.annotation("v_input_provision")
    if provision is not None:
        paths = [p for p in provision.value.replace(",", " ").split() if p]
        if paths:
            path = paths[0]
            norm = "prompt_location" if path.endswith(_PROMPT_SUFFIXES) else "script_location" if path.endswith(".py") else "file_location"
            return [sign(norm, path)]
    python = line.annotation("python")
    if python is not None and ":" in python.value:
        return [sign("script_location", python.value.strip().rsplit(":", 1)[0])]
    return ["%{dummy}(_)"]


def function_type(line: ConceptLine) -> str:
    node = line.node
    if isinstance(node, Semantic):
        if node.agent.kind is AgentKind.INPUT:
            return ":>:"
        return "<{}>" if node.assertion is not None else "({})"
    assert isinstance(node, Operator)
    return node.op


def _description(line: ConceptLine | None) -> str | None:
    return line.description if line is not None else None


def concept_repository(table: ConceptTable) -> list[dict[str, Any]]:
    root = table.model.plan.root
    final = table.line_name.get(root.index) if root is not None else None
    entries: list[tuple[tuple[int, ...], dict[str, Any]]] = []
    for name, lines in table.value_lines.items():
        concept = lines[0].concept
        assert concept is not None
        indices = sorted((line.flow_index for line in lines), key=flow_key)
        axes = table.axes(name)
        ground = table.is_ground(name)
        natural = concept.inner
        entry = {
            "id": concept_id(natural, name, False),
            "concept_name": name,
            "type": _TYPE_OF_KIND[concept.kind],
            "flow_indices": indices,
            "description": _description(table.first_producing_line(name) or lines[0]),
            "is_ground_concept": ground,
            "is_final_concept": name == final,
            "is_invariant": table.is_invariant(name),
            "reference_data": table.reference_data(name) if ground else None,
            "reference_axis_names": axes,
            "axis_name": axes[0],
            "reference_element_type": table.element_type(name),
            "natural_name": natural,
            "context": "",
        }
        entries.append((flow_key(indices[0]), entry))
    # Implicit inputs (NCD935, FIDELITY §4) that no line names: the operation waits for them, so they are concepts
    # of the plan — ground (nothing produces them), supplied by the inputs file; indexed by the naming line.
    for inference in table.model.inferences:
        for use in inference.implicit:
            name = use.name
            if name in table.value_lines or any(entry["concept_name"] == name for _, entry in entries):
                continue
            axes = table.axes(name)
            index = inference.function_line.flow_index
            entries.append(
                (
                    flow_key(index),
                    {
                        "id": concept_id(use.concept.inner, name, False),
                        "concept_name": name,
                        "type": _TYPE_OF_KIND[use.concept.kind],
                        "flow_indices": [index],
                        "description": None,
                        "is_ground_concept": table.is_ground(name),
                        "is_final_concept": name == final,
                        "is_invariant": False,
                        "reference_data": None,
                        "reference_axis_names": axes,
                        "axis_name": axes[0],
                        "reference_element_type": None,
                        "natural_name": use.concept.inner,
                        "context": "",
                    },
                )
            )
    for name, lines in table.function_lines.items():
        first = lines[0]
        node = first.node
        semantic = isinstance(node, Semantic)
        natural = node.body if isinstance(node, Semantic) else name
        indices = sorted((line.flow_index for line in lines), key=flow_key)
        entry = {
            "id": concept_id(natural, name, True),
            "concept_name": name,
            "type": function_type(first),
            "flow_indices": indices,
            "description": _description(first),
            "is_ground_concept": True,
            "is_final_concept": False,
            "is_invariant": False,
            "reference_data": function_reference_data(first),
            "reference_axis_names": ["_none_axis"],
            "axis_name": "_none_axis",
            "reference_element_type": "paradigm" if semantic else "operator",
            "natural_name": natural,
            "context": "",
        }
        if isinstance(node, Operator):
            entry["syntactic_category"] = node.family
        entries.append((flow_key(indices[0]), entry))
    entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


def start_flags(inference: Inference) -> dict[str, bool]:
    flags = {flag: False for flag in START_FLAGS}
    if inference.sequence == "looping":
        for flag in START_FLAGS:
            if flag.endswith("_only_once"):
                flags[flag] = True
    config = inference.function_line.annotation("loop_config")
    if config is not None:
        for flag in config.value.split(","):
            if flag.strip() in flags:
                flags[flag.strip()] = True
    return flags


def value_and_context_concepts(table: ConceptTable, inference: Inference) -> tuple[list[str], list[str]]:
    """§3.4, by sequence."""
    node = inference.functional
    contexts = [u.name if u.line.marker is Marker.FUNCTION else table.line_name.get(u.line.index, u.name) for u in inference.contexts]
    values = [u.name for u in inference.values]
    if inference.kind == "ordinary" and isinstance(node, Operator) and node.family == "grouping":
        sources = node.modifier("%>")
        values = [item.canonical_name for item in sources.items if hasattr(item, "canonical_name")] if sources else []
    if inference.loop is not None:
        loop = inference.loop
        contexts = ([loop.element_name] if loop.element_name else []) + [carried[0] for carried in loop.carried.values()]
    return values, _dedupe(contexts)


def _dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]


def inference_repository(table: ConceptTable, concepts: list[dict[str, Any]]) -> Repositories:
    by_name = {entry["concept_name"]: entry for entry in concepts}
    entries: list[dict[str, Any]] = []
    definitions: list[dict[str, Any]] = []
    for inference in table.model.inferences:
        values, contexts = value_and_context_concepts(table, inference)
        interpretation = working_interpretation(table, inference, values)
        flags = start_flags(inference)
        entry: dict[str, Any] = {
            "id": "",
            "flow_info": {"flow_index": inference.flow_index},
            "inference_sequence": inference.sequence,
            "concept_to_infer": inference.cti,
            "function_concept": inference.function,
            "value_concepts": values,
            "context_concepts": contexts,
            "working_interpretation": {"workspace": {}, "flow_info": {"flow_index": inference.flow_index}, **interpretation},
        }
        entry.update(flags)
        entries.append(entry)
        function = by_name.get(inference.function, {})
        ground = {}
        for name in values + contexts:
            concept = by_name.get(name)
            if concept is not None and concept["is_ground_concept"] and name not in ground:
                ground[name] = {"reference_data": concept["reference_data"], "reference_axis_names": concept["reference_axis_names"]}
        definitions.append(
            {
                "schema": "ncd.inference-signature/1",
                "inference_sequence": inference.sequence,
                "concept_to_infer": inference.cti,
                "function_concept": inference.function,
                "value_concepts": values,
                "context_concepts": contexts,
                "working_interpretation": {k: v for k, v in interpretation.items() if k != "blackboard"},
                "start_flags": flags,
                "function": {
                    "type": function.get("type"),
                    "reference_data": function.get("reference_data"),
                    "reference_axis_names": function.get("reference_axis_names"),
                },
                "ground": ground,
                "loops": [loop.function for loop in inference.enclosing_loops],
            }
        )
    signatures = [signature(d) for d in definitions]
    for entry, inference_id in zip(entries, inference_ids(signatures)):
        entry["id"] = inference_id
    return Repositories(concepts, entries, signatures, definitions)


def build_repositories(model: PlanModel) -> tuple[ConceptTable, Repositories]:
    table = ConceptTable(model)
    concepts = concept_repository(table)
    return table, inference_repository(table, concepts)
