"""NCD511 (CHECKS.md §3.5): a loop body that waits for its own loop's result, directly or through other
inferences, can never run (the aggregate exists only after the last iteration).

Only bodies that read a concept produced outside their loop can be in such a cycle, so the strongly-connected
components of the dependency edges (one iterative Tarjan pass) are computed only when some body does.
The dependency-graph rules leave these cycles to this rule (NCD301 skips them).
"""

from __future__ import annotations

from ncdc.checks._common import related
from ncdc.checks._loop_facts import Loop
from ncdc.plan import Inference, PlanModel
from ncdc.source import Reporter


def check_own_result(model: PlanModel, reporter: Reporter, loops: list[Loop]) -> None:
    """NCD511 once per reading line and loop, when the reader and the loop are in one dependency cycle."""
    candidates: list[tuple[Loop, Inference]] = []
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
                related=(related(model.plan.path, loop.parent, "the loop's result"),),
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
