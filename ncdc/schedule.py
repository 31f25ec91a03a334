"""The schedule (REPOSITORY_FORMAT.md §4): dependencies, levels, loops, gates and the critical path.

Dependencies can point either way in flow order (a later sibling may produce what an earlier one reads), so
levels come from a topological order of the dependency relation (graphlib), acyclic once NCD301 holds.
"""

from __future__ import annotations

from graphlib import TopologicalSorter
from typing import Any

from ncdc.emit import ConceptTable, Repositories, append_destination
from ncdc.plan import Inference, flow_key


def _flow_sorted(indices) -> list[str]:
    return sorted(set(indices), key=flow_key)


def supported_by(table: ConceptTable, inference: Inference) -> list[str]:
    """Inferences J whose index has this one as a proper prefix, with no inference strictly between."""
    model = table.model
    return [
        other.flow_index
        for other in model.under(inference.flow_index)
        if other is not inference and model.supported_inference(other) is inference
    ]


def _in_place_destination(inference: Inference) -> str | None:
    """The destination of an in-place `$+` (its result is the destination itself), else None."""
    destination = append_destination(inference)
    return destination if destination is not None and destination == inference.cti else None


def _reads_iteration_start(reader: Inference, producer: Inference, name: str) -> bool:
    """C§3.3 Accumulators (FIDELITY §4, E7, E8): a reader inside the body of the innermost loop L of an in-place
    `$+` producing ``name`` reads the value at the start of L's iteration, so it does not wait for the append;
    an earlier-indexed append to the same destination still comes first."""
    if _in_place_destination(producer) != name or not producer.enclosing_loops:
        return False
    loop = producer.enclosing_loops[-1]
    if loop is reader or loop not in reader.enclosing_loops:
        return False
    if _in_place_destination(reader) == name:
        return flow_key(reader.flow_index) < flow_key(producer.flow_index)
    return True


def build_schedule(table: ConceptTable, repositories: Repositories) -> dict[str, Any]:
    model = table.model
    by_name = {entry["concept_name"]: entry for entry in repositories.concepts}
    entries: list[dict[str, Any]] = []
    depends: dict[str, list[str]] = {}
    for inference, entry, sig in zip(model.inferences, repositories.inferences, repositories.signatures):
        requires = []
        listed: set[str] = set()
        producers_all: list[str] = []
        for role, names in (("value", entry["value_concepts"]), ("context", entry["context_concepts"])):
            for name in names:
                if name in listed:
                    continue
                listed.add(name)
                provider = next((loop for loop in model.loop_provided.get(name, ()) if loop in inference.enclosing_loops or loop is inference), None)
                producers = [] if provider is not None else [
                    p.flow_index for p in model.producers.get(name, ())
                    if p is not inference and not _reads_iteration_start(inference, p, name)
                ]
                producers_all.extend(producers)
                concept = by_name.get(name)
                requires.append(
                    {
                        "concept": name,
                        "role": role,
                        "producers": _flow_sorted(producers),
                        "ground": bool(concept and concept["is_ground_concept"]),
                        "loop_provided_by": provider.flow_index if provider is not None else None,
                    }
                )
        support = supported_by(table, inference)
        depends_on = _flow_sorted(support + producers_all)
        depends[inference.flow_index] = depends_on
        entries.append(
            {
                "flow_index": inference.flow_index,
                "id": entry["id"],
                "signature": sig,
                "sequence": inference.sequence,
                "concept_to_infer": inference.cti,
                "source_line": inference.source_line,
                "supported_by": support,
                "requires": requires,
                "depends_on": depends_on,
                "dependents": [],
                "level": 0,
                "enclosing_loops": [loop.flow_index for loop in inference.enclosing_loops],
                "gated_by": inference.gated_by.flow_index if inference.gated_by is not None else None,
            }
        )
    by_index = {entry["flow_index"]: entry for entry in entries}
    dependents: dict[str, list[str]] = {index: [] for index in by_index}
    for index, deps in depends.items():
        for dep in deps:
            dependents[dep].append(index)
    level: dict[str, int] = {}
    for index in TopologicalSorter(depends).static_order():
        level[index] = 1 + max((level[d] for d in depends.get(index, ())), default=0)
    for entry in entries:
        entry["dependents"] = _flow_sorted(dependents[entry["flow_index"]])
        entry["level"] = level[entry["flow_index"]]
    levels: list[list[str]] = [[] for _ in range(max(level.values(), default=0))]
    for entry in entries:
        levels[entry["level"] - 1].append(entry["flow_index"])
    return {
        "roots": ["1"],
        "final_concepts": [c["concept_name"] for c in repositories.concepts if c["is_final_concept"]],
        "ground_concepts": [
            {"name": c["concept_name"], "origin": table.ground_origin(c["concept_name"]), "has_data": c["reference_data"] is not None}
            for c in repositories.concepts
            if c["is_ground_concept"] and not c["id"].startswith("fc-")
        ],
        "inferences": entries,
        "levels": levels,
        "loops": _loops(table, repositories, by_index),
        "gates": _gates(table, by_index),
        "critical_path": _critical_path(entries, by_index),
    }


def _loops(table: ConceptTable, repositories: Repositories, by_index: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    model = table.model
    by_name = {entry["concept_name"]: entry for entry in repositories.concepts}
    interpretations = {e["flow_info"]["flow_index"]: e["working_interpretation"] for e in repositories.inferences}
    loops = []
    for inference in model.inferences:
        loop = inference.loop
        if loop is None:
            continue
        body = model.body_of(inference)
        reset_concepts: list[str] = []
        for member in body:
            concept = by_name.get(member.cti)
            if concept is None or concept["id"].startswith("fc-"):
                continue
            if concept["is_ground_concept"] or concept["is_invariant"] or member.cti in reset_concepts:
                continue
            reset_concepts.append(member.cti)
        invariants = [name for name, _, _ in loop.carried.values()]
        for member in body:
            destination = append_destination(member)
            if destination is not None and destination not in invariants:
                invariants.append(destination)
        loops.append(
            {
                "flow_index": inference.flow_index,
                "body": loop.operator_line.flow_index,
                "index": loop.index,
                "base": loop.base.canonical_name if loop.base else None,
                "element": loop.element_name,
                "result": loop.result.canonical_name if loop.result else None,
                "loop_axis": interpretations[inference.flow_index]["syntax"]["group_base"],
                "carried": [
                    {"concept": concept, "name": name, "carry_over": n, "initial": initial}
                    for concept, (name, n, initial) in loop.carried.items()
                ],
                "reset_set": [member.flow_index for member in body],
                "reset_concepts": reset_concepts,
                "invariants": invariants,
            }
        )
    return loops


def _gates(table: ConceptTable, by_index: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    model = table.model
    gates = []
    timing_marker = {"@:'": "if", "@:!": "if!", "@.": "after"}
    gated_by = {other.gated_by.flow_index: other for other in model.inferences if other.gated_by is not None}
    for inference in model.inferences:
        if inference.kind != "gate":
            continue
        condition = inference.values[0].name if inference.values else None
        gated = gated_by.get(inference.flow_index)
        gates.append(
            {
                "flow_index": inference.flow_index,
                "marker": timing_marker[inference.functional.op],
                "condition": condition,
                "condition_producers": _flow_sorted(p.flow_index for p in model.producers.get(condition, ())),
                "gated": gated.flow_index if gated is not None else None,
                "gated_function": inference.cti,
            }
        )
    return gates


def _critical_path(entries: list[dict[str, Any]], by_index: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not entries:
        return {"length": 0, "path": []}
    best = min(entries, key=lambda e: (-e["level"], flow_key(e["flow_index"])))
    path = [best["flow_index"]]
    while best["depends_on"]:
        best = min((by_index[i] for i in best["depends_on"]), key=lambda e: (-e["level"], flow_key(e["flow_index"])))
        path.append(best["flow_index"])
    path.reverse()
    return {"length": len(path), "path": path}
