"""NCD301 (CHECKS.md §3.3): a dependency cycle, in which no inference can ever start.

A cheap ``graphlib`` topological sort tells whether there is a cycle at all; only then is networkx imported
(~0.15 s) to find the strongly connected components, each reported once with one shortest cycle through its
first inference. Cycles in which a loop body waits for its own loop are left to NCD511 (``loop_deadlock``).
"""

from __future__ import annotations

from collections import deque
from graphlib import CycleError, TopologicalSorter

from ncdc.checks._graph_facts import GraphFacts


def check(facts: GraphFacts) -> None:
    """NCD301 for each strongly connected component of the dependency edges that has a cycle."""
    edges = facts.model.edges
    # Inferences whose lines failed to parse are left out (their reads are unknown: one mistake, one
    # diagnostic), and so are self-reads of ground data, which never wait.
    incomplete = {inference.flow_index for inference in facts.model.inferences if not inference.complete}
    exempt = {
        source
        for source, targets in edges.items()
        if source in targets and _exempt_self_read(facts, targets[source].concept)
    }
    if exempt or incomplete:
        edges = {
            source: {
                t: e for t, e in targets.items() if t not in incomplete and not (t == source and source in exempt)
            }
            for source, targets in edges.items()
            if source not in incomplete
        }
    try:
        TopologicalSorter(edges).prepare()  # successors as "predecessors": the same cycles, reversed
        return
    except CycleError:
        pass
    import networkx

    graph = networkx.DiGraph()
    graph.add_nodes_from(edges)
    for source, targets in edges.items():
        graph.add_edges_from((source, target) for target in targets)
    by_index = facts.model.by_index
    components = []
    for component in networkx.strongly_connected_components(graph):
        if len(component) == 1:
            (only,) = component
            if only not in edges[only]:
                continue
        components.append(sorted(component, key=lambda index: by_index[index].key))
    for members in sorted(components, key=lambda m: by_index[m[0]].key):
        if _loop_feeds_own_body(facts, members):
            continue  # the loop body waits for the loop's own result: NCD511 (loops) reports it
        _report_cycle(facts, members, edges)


def _exempt_self_read(facts: GraphFacts, concept: str | None) -> bool:
    """A self-read of a concept declared ground is not a wait: ground data is complete at start-up (a `$+`
    appending to declared initial data, or NCD303)."""
    return concept is not None and facts.ground_declared(concept)


def _loop_feeds_own_body(facts: GraphFacts, members: list[str]) -> bool:
    """Whether the component holds a looping inference together with part of its own body (NCD511's case)."""
    inside = set(members)
    for index in members:
        loop = facts.model.by_index[index]
        if loop.loop is None:
            continue
        if any(body.flow_index in inside for body in facts.model.body_of(loop)):
            return True
    return False


def _report_cycle(facts: GraphFacts, members: list[str], edges) -> None:
    """NCD301 at the component's first inference, showing one shortest cycle through it."""
    by_index = facts.model.by_index
    inside = set(members)
    waits_for: dict[str, list[str]] = {index: [] for index in members}  # consumer -> producers, in the SCC
    for source in members:
        for target in edges[source]:
            if target in inside:
                waits_for[target].append(source)
    start = members[0]
    path = _shortest_cycle(start, waits_for)
    first = by_index[start]
    steps = [f"{by_index[i].cti} (line {by_index[i].source_line})" for i in path]
    shown = " -> ".join(steps + [first.cti])
    why = "it waits for its own result, so it never" if len(path) == 1 else "each waits for the next, so none of them ever"
    related = tuple(
        facts.related(by_index[i].cti_line, f"in the cycle: {by_index[i].cti}") for i in members
    )
    facts.reporter.at(
        "NCD301",
        first.cti_line.span,
        f"dependency cycle: {shown} ({why} can start)",
        help="break the cycle: give the inner step an input that is produced earlier instead of a result "
        "that depends on it",
        related=related,
    )


def _shortest_cycle(start: str, waits_for: dict[str, list[str]]) -> list[str]:
    """One shortest cycle through ``start`` following "waits for" (breadth-first, one search)."""
    if start in waits_for[start]:
        return [start]
    parent: dict[str, str] = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for dependency in waits_for[node]:
            if dependency == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                path.reverse()
                return path
            if dependency not in parent:
                parent[dependency] = node
                queue.append(dependency)
    return [start]  # unreachable for a strongly connected component
