"""``ncdc graph``: the inference graph of a plan as DOT, Mermaid or JSON (SVG through Graphviz's ``dot``).

Inferences are boxes (flow index, sequence, concept to infer); value concepts are ellipses; an arrow from a
concept to an inference is a read, from an inference to a concept a write; a gate points to the inference it
gates (dashed); a loop's body is drawn as a cluster. Output is deterministic (flow order, sorted names).
"""

from __future__ import annotations

import json
from typing import Any

from ncdc.plan import PlanModel


def graph_data(model: PlanModel) -> dict[str, Any]:
    concept_ids: dict[str, str] = {}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []

    def concept_node(name: str) -> str:
        if name not in concept_ids:
            concept_ids[name] = f"c{len(concept_ids) + 1}"
            nodes.append({"id": concept_ids[name], "kind": "concept", "label": name, "ground": model.is_ground(name)})
        return concept_ids[name]

    for inference in model.inferences:
        node_id = "i" + inference.flow_index.replace(".", "_")
        nodes.append(
            {
                "id": node_id,
                "kind": "inference",
                "flow_index": inference.flow_index,
                "sequence": inference.sequence,
                "label": inference.cti,
                "function": inference.function,
                "loop": inference.enclosing_loops[-1].flow_index if inference.enclosing_loops else None,
            }
        )
    for inference in model.inferences:
        node_id = "i" + inference.flow_index.replace(".", "_")
        if inference.kind == "ordinary":
            edges.append({"from": node_id, "to": concept_node(inference.cti), "kind": "writes"})
        for use in inference.values + inference.contexts:
            if inference.kind == "gate":
                edges.append({"from": concept_node(use.name), "to": node_id, "kind": "condition"})
                break
            edges.append({"from": concept_node(use.name), "to": node_id, "kind": "reads"})
        if inference.gated_by is not None:
            edges.append({"from": "i" + inference.gated_by.flow_index.replace(".", "_"), "to": node_id, "kind": "gates"})
        if inference.kind == "loop_body" and inference.enclosing_loops:
            loop = inference.enclosing_loops[-1]
            edges.append({"from": node_id, "to": "i" + loop.flow_index.replace(".", "_"), "kind": "iterates"})
    return {"nodes": nodes, "edges": unique_edges(edges)}


def unique_edges(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edges without repeats of (from, to, kind), first occurrence kept (output order is deterministic)."""
    unique, seen = [], set()
    for edge in edges:
        key = (edge["from"], edge["to"], edge["kind"])
        if key not in seen:
            seen.add(key)
            unique.append(edge)
    return unique


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(data: dict[str, Any]) -> str:
    lines = ["digraph plan {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    clusters: dict[str, list[str]] = {}
    for node in data["nodes"]:
        if node["kind"] == "inference":
            label = f"{node['flow_index']} {node['sequence']}\\n{node['label']}"
            line = f"  {node['id']} [shape=box, label={_quote(label)}];"
            if node["loop"]:
                clusters.setdefault(node["loop"], []).append(line)
                continue
        else:
            style = ", style=filled, fillcolor=lightgrey" if node["ground"] else ""
            line = f"  {node['id']} [shape=ellipse, label={_quote(node['label'])}{style}];"
        lines.append(line)
    for loop, members in clusters.items():
        lines.append(f"  subgraph cluster_{loop.replace('.', '_')} {{")
        lines.append(f"    label={_quote('loop ' + loop)}; style=rounded;")
        lines.extend("  " + member for member in members)
        lines.append("  }")
    styles = {"gates": " [style=dashed, label=gate]", "condition": " [style=dotted]", "iterates": " [style=bold]"}
    for edge in data["edges"]:
        lines.append(f"  {edge['from']} -> {edge['to']}{styles.get(edge['kind'], '')};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(data: dict[str, Any]) -> str:
    def text(label: str) -> str:
        return '"' + label.replace('"', "#quot;") + '"'

    lines = ["flowchart BT"]
    clusters: dict[str, list[str]] = {}
    for node in data["nodes"]:
        if node["kind"] == "inference":
            line = f"  {node['id']}[{text(node['flow_index'] + ' ' + node['sequence'] + ': ' + node['label'])}]"
            if node["loop"]:
                clusters.setdefault(node["loop"], []).append(line)
                continue
        else:
            line = f"  {node['id']}([{text(node['label'])}])"
        lines.append(line)
    for loop, members in clusters.items():
        lines.append(f"  subgraph loop_{loop.replace('.', '_')}[{text('loop ' + loop)}]")
        lines.extend("  " + member for member in members)
        lines.append("  end")
    arrows = {"gates": "-. gate .->", "condition": "-.->", "iterates": "==>"}
    for edge in data["edges"]:
        lines.append(f"  {edge['from']} {arrows.get(edge['kind'], '-->')} {edge['to']}")
    return "\n".join(lines) + "\n"


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
