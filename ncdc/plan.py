"""IR → the plan model: inferences, concepts, producers, loops, gates and the dependency graph.

This is the one model every later stage uses (checks, emit, schedule, the runtime's loader). It follows
LANGUAGE.md §5 (inference structure) and REPOSITORY_FORMAT.md §2-§4 (what each inference reads and writes).
Lines whose payload failed to parse stay out of the model's names; an inference that touches one is marked
``complete=False`` so that rules skip it (CHECKS.md §1.5: one mistake, one diagnostic).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from ncdc.declarations import (
    DeclaredData,
    annotation_concepts,
    declared_data,
    flow_key,
    functional_text,
    ground_declaration,
    parse_axes,
)
from ncdc.ir import (
    ConceptKind,
    ConceptLine,
    ConceptRef,
    ElementDeclaration,
    LoopVersion,
    Marker,
    Operator,
    Plan,
    Semantic,
)

if TYPE_CHECKING:
    import networkx

SEQUENCE_OF_FAMILY = {
    "imperative": "imperative_in_composition",
    "judgement": "judgement_in_composition",
    "assigning": "assigning",
    "grouping": "grouping",
    "timing": "timing",
    "looping": "looping",
}

# The line-level helpers live in ncdc/declarations.py; they are re-exported here because the compiler, the checks
# and the runtime import them from ncdc.plan.
__all__ = [
    "SEQUENCE_OF_FAMILY",
    "DeclaredData",
    "Edge",
    "Inference",
    "LoopInfo",
    "PlanModel",
    "Use",
    "AppendRoles",
    "annotation_concepts",
    "append_roles",
    "unmarked_name",
    "declared_data",
    "flow_key",
    "functional_text",
    "ground_declaration",
    "parse_axes",
]


@dataclass(slots=True)
class Use:
    """A concept read by an inference, through the line that names it."""

    name: str
    line: ConceptLine
    role: str  # "value" | "context"
    concept: ConceptRef


@dataclass(frozen=True, slots=True)
class Edge:
    """Why one inference waits for another: the concept read (None for a support edge) and the reading line."""

    concept: str | None
    line: int


@dataclass(slots=True)
class LoopInfo:
    """What a ``*.`` loop declares (LANGUAGE.md §4.3, §5.1 rule 3; REPOSITORY_FORMAT.md §3.3 looping)."""

    operator_line: ConceptLine  # the ``*.`` line; the loop body inference has its index
    index: int
    base: ConceptRef | None
    result: ConceptRef | None
    element: ConceptRef | None  # the element: declared by the first ``<* {x}<$(B)*>`` line, else inline ``%>(B<$({x})*>)``
    element_lines: list[ConceptLine]  # ``<*`` siblings declaring an element of the base
    carried_lines: list[ConceptLine]  # ``<* X*-N`` / ``<* {x}<$(X)*-N>`` siblings
    element_name: str | None = None  # as the body spells it (CurrentLoopBaseConcept)
    carried: dict[str, tuple[str, int, str | None]] = field(default_factory=dict)  # X -> (X*-N, N, X*0 or None)


@dataclass(slots=True)
class Inference:
    flow_index: str
    kind: str  # "ordinary" | "gate" | "loop_body"
    sequence: str
    cti: str
    cti_line: ConceptLine  # the line whose flow index the inference has
    function_line: ConceptLine
    function: str
    values: list[Use]
    contexts: list[Use]
    complete: bool  # False when a line it needs failed to parse
    loop: LoopInfo | None = None
    enclosing_loops: list["Inference"] = field(default_factory=list)  # outermost first
    gated_by: "Inference | None" = None
    # Operands no sibling line declares (NCD935, FIDELITY §4): also in ``values`` so that the operation waits for
    # them; each Use's line is the functional line and its concept the operand as written there.
    implicit: list[Use] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, ...]:
        return flow_key(self.flow_index)

    @property
    def source_line(self) -> int:
        return self.cti_line.line

    @property
    def functional(self):
        return self.function_line.node


class PlanModel:
    """Inferences and concepts of a plan, with producer/consumer indexes and the dependency graph."""

    def __init__(self, plan: Plan, failed: frozenset[int] = frozenset()) -> None:
        self.plan = plan
        self.failed = failed
        self.inferences: list[Inference] = []
        self.by_index: dict[str, Inference] = {}
        self.producers: dict[str, list[Inference]] = {}  # value concept -> ordinary inferences producing it
        self.loop_provided: dict[str, list[Inference]] = {}  # element / carried name -> looping inferences
        self.lines_naming: dict[str, list[ConceptLine]] = {}  # value concept -> lines naming it, file order
        self.line_name: dict[int, str] = {}  # value line index -> the concept it names (L§3.3 exceptions applied)
        self.function_lines: dict[str, list[ConceptLine]] = {}  # functional text -> its <= lines
        self._candidates: dict[str, list[tuple[str, ConceptRef]]] = {}
        self._build()

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        lines = self.plan.lines
        for line in lines:
            concept = line.concept
            if concept is not None:
                name = self._append_result_name(line) or concept.canonical_name
                self.line_name[line.index] = name
                self.lines_naming.setdefault(name, []).append(line)
            elif line.marker is Marker.FUNCTION:
                text = functional_text(line)
                if text is not None:
                    self.function_lines.setdefault(text, []).append(line)
        for line in lines:
            if not line.children:
                continue
            first = lines[line.children[0]]
            if first.marker is not Marker.FUNCTION:
                continue
            if line.marker is not Marker.FUNCTION:
                self._ordinary(line, first)
            elif _is_timing(first):
                self._gate(line, first)
            elif isinstance(line.node, Operator) and line.node.op == "*.":
                self._loop_body(line, first)
        self.inferences.sort(key=lambda inference: inference.key)
        self._keys = [inference.key for inference in self.inferences]
        for inference in self.inferences:
            self.by_index[inference.flow_index] = inference
        self._link_loops_and_gates()

    def _children(self, line: ConceptLine, marker: Marker) -> list[ConceptLine]:
        # An output placement (FIDELITY §6.2) only marks the result's placeholder: it is not an input.
        return [
            self.plan.lines[i]
            for i in line.children
            if self.plan.lines[i].marker is marker and not self.plan.lines[i].output_placement
        ]

    def _uses(self, lines: list[ConceptLine], role: str) -> tuple[list[Use], bool]:
        uses: list[Use] = []
        seen: set[str] = set()
        complete = True
        for line in lines:
            concept = line.concept
            if concept is None:
                complete = False
                continue
            name = self.line_name.get(line.index, concept.canonical_name)
            if name not in seen:
                seen.add(name)
                uses.append(Use(name, line, role, concept))
        return uses, complete

    def _ordinary(self, line: ConceptLine, function: ConceptLine) -> None:
        concept = line.concept
        text = functional_text(function)
        node = function.node
        if _is_timing(function):
            # FIDELITY §3.11: the front end rewrites a timing function into a gated `$.` selection (NCD928); one
            # that is still here could not be rewritten and is reported by the structure rules.
            return
        values, values_ok = self._uses(self._children(line, Marker.VALUE), "value")
        contexts, contexts_ok = self._uses(self._children(line, Marker.CONTEXT), "context")
        complete = concept is not None and text is not None and values_ok and contexts_ok
        family = node.family if isinstance(node, (Semantic, Operator)) else "imperative"
        loop = None
        if isinstance(node, Operator) and node.op == "*.":
            loop = self._loop_info(line, function, node)
        inference = Inference(
            line.flow_index,
            "ordinary",
            SEQUENCE_OF_FAMILY[family],
            self.line_name[line.index] if concept is not None else line.payload,
            line,
            function,
            text or function.payload,
            values,
            contexts,
            complete,
            loop,
        )
        if complete and family != "looping" and isinstance(node, Operator):
            # R§3.4 (FIDELITY §4(c), §6.5): a `<*` line naming an operand of a syntactic operator is a value
            # concept (`$= %>({user query})` with `<* {user query}`): listed in value_concepts and waited for.
            operands = {ref.canonical_name for ref in implicit_operand_candidates(inference)}
            moved = [use for use in inference.contexts if use.name in operands]
            for use in moved:
                inference.contexts.remove(use)
                inference.values.append(Use(use.name, use.line, "value", use.concept))
        if complete and family != "looping":
            inference.implicit = self._implicit_inputs(inference)
            inference.values.extend(inference.implicit)
        self.inferences.append(inference)
        if concept is not None:
            self.producers.setdefault(self.line_name[line.index], []).append(inference)

    def _implicit_inputs(self, inference: Inference) -> list[Use]:
        """Operands that no sibling ``<-``/``<*`` line declares (C§3.6 NCD935, FIDELITY §4 and errata E5/E6): the
        reference compiler lists them as value concepts, so the operation waits for them. Exceptions: the
        inference's own cti as a ``$.`` operand or as the destination of an in-place ``$+`` (it only names the
        destination); ``*.`` operands (NCD502-NCD504) and gate conditions are never implicit."""
        declared = {use.name for use in inference.values + inference.contexts}
        found: list[Use] = []
        for ref in implicit_operand_candidates(inference):
            name = ref.canonical_name
            if name in declared:
                continue
            declared.add(name)
            found.append(Use(name, inference.function_line, "value", ref))
        return found

    def _gate(self, line: ConceptLine, timing: ConceptLine) -> None:
        node = timing.node
        condition_uses: list[Use] = []
        complete = isinstance(node, Operator) and functional_text(line) is not None
        if isinstance(node, Operator):
            modifier = node.modifier("%>")
            item = modifier.items[0] if modifier is not None and len(modifier.items) == 1 else None
            if isinstance(item, ConceptRef):
                condition_uses = [Use(item.canonical_name, timing, "value", item)]
            else:
                complete = False
        text = functional_text(line) or line.payload
        inference = Inference(
            line.flow_index,
            "gate",
            "timing",
            text,
            line,
            timing,
            functional_text(timing) or timing.payload,
            condition_uses,
            [Use(u.name, u.line, "context", u.concept) for u in condition_uses],
            complete,
        )
        self.inferences.append(inference)

    def _loop_body(self, line: ConceptLine, selector: ConceptLine) -> None:
        values, values_ok = self._uses(self._children(line, Marker.VALUE), "value")
        complete = values_ok and isinstance(selector.node, Operator) and functional_text(line) is not None
        node = selector.node
        family = node.family if isinstance(node, (Semantic, Operator)) else "assigning"
        inference = Inference(
            line.flow_index,
            "loop_body",
            SEQUENCE_OF_FAMILY[family],
            functional_text(line) or line.payload,
            line,
            selector,
            functional_text(selector) or selector.payload,
            values,
            [],
            complete,
        )
        self.inferences.append(inference)

    def _loop_info(self, parent: ConceptLine, loop_line: ConceptLine, node: Operator) -> LoopInfo:
        def operand(op: str) -> ConceptRef | None:
            modifier = node.modifier(op)
            if modifier is None or len(modifier.items) != 1:
                return None
            item = modifier.items[0]
            return item if isinstance(item, ConceptRef) else None

        index_modifier = node.modifier("%@")
        index = 1
        if index_modifier is not None and index_modifier.items and isinstance(getattr(index_modifier.items[0], "value", None), int):
            index = index_modifier.items[0].value  # type: ignore[union-attr]
        element_lines: list[ConceptLine] = []
        carried_lines: list[ConceptLine] = []
        for context in self._children(parent, Marker.CONTEXT):
            concept = context.concept
            if concept is None:
                continue
            declarations = concept.suffixes_of(ElementDeclaration)
            versions = [v for s in concept.suffixes_of(LoopVersion) for v in s.versions]
            if any(d.carry is not None for d in declarations) or any(v < 0 for v in versions):
                carried_lines.append(context)
            elif declarations:
                element_lines.append(context)
        # FIDELITY §2: `%:` names the loop axis, never the element; the element comes from the `<*` declaration
        # or, when no `<*` line declares one, from the inline form `%>(B<$({x})*>)` (E21: the marker names the element).
        element = element_lines[0].concept if element_lines else _inline_element(operand("%>"))
        base = operand("%>")
        result = operand("%<")
        if result is None and node.modifier("%<") is None and loop_line.children:
            # `%<` is optional (FIDELITY §2): the result is the `%>` operand of the body `$.`
            selector = self.plan.lines[loop_line.children[0]].node
            if isinstance(selector, Operator) and selector.op == "$.":
                result = _single_ref(selector, "%>")
        info = LoopInfo(loop_line, index, base, result, element, element_lines, carried_lines)
        for context in carried_lines:
            concept = context.concept
            assert concept is not None
            declaration = next(iter(concept.suffixes_of(ElementDeclaration)), None)
            if declaration is not None and declaration.carry is not None:
                target, n = declaration.base, declaration.carry
            else:
                versions = concept.suffixes_of(LoopVersion)
                n = -versions[-1].versions[-1] if versions else 1
                target = concept.core
            name = f"{target}*-{n}"
            initial = f"{target}*0" if f"{target}*0" in {u.concept.canonical_name for u in self._uses(self._children(parent, Marker.VALUE), "value")[0]} else None
            info.carried[target] = (name, n, initial)
        return info

    def _link_loops_and_gates(self) -> None:
        loops_by_line: dict[str, Inference] = {}
        for inference in self.inferences:
            loop = inference.loop
            if loop is None:
                continue
            loops_by_line[loop.operator_line.flow_index] = inference
            element = self._element_spelling(inference)
            loop.element_name = element
            if element is not None:
                self._rename_element_declarations(inference, element)
            if element is not None:
                self.loop_provided.setdefault(element, []).append(inference)
            for name, _, _ in loop.carried.values():
                self.loop_provided.setdefault(name, []).append(inference)
        gates_by_text: dict[str, list[Inference]] = {}
        for inference in self.inferences:
            if inference.kind == "gate":
                gates_by_text.setdefault(inference.cti, []).append(inference)
        for inference in self.inferences:
            parts = inference.flow_index.split(".")
            enclosing = []
            for depth in range(1, len(parts) + 1):
                loop = loops_by_line.get(".".join(parts[:depth]))
                if loop is not None:
                    enclosing.append(loop)
            inference.enclosing_loops = enclosing
            if inference.kind != "gate":
                gate = self.by_index.get(inference.function_line.flow_index)
                if gate is not None and gate.kind == "gate":
                    inference.gated_by = gate

    def _append_result_name(self, line: ConceptLine) -> str | None:
        """An in-place ``$+`` result names its destination (L§3.3 decision as amended by FIDELITY §3.3 and E12);
        a functional ``$+`` result names a concept of its own (None here)."""
        if not line.children:
            return None
        function = self.plan.lines[line.children[0]]
        node = function.node
        concept = line.concept
        if not (isinstance(node, Operator) and node.op == "$+") or concept is None:
            return None
        roles = append_roles(node, concept)
        return roles.destination.canonical_name if roles is not None and roles.in_place else None

    def _rename_element_declarations(self, loop: Inference, element: str) -> None:
        """``<* {x}<$(B)*>`` names ``{x}*N`` when the body spells the element that way (L§3.3 exception)."""
        assert loop.loop is not None
        for line in loop.loop.element_lines:
            old = self.line_name.get(line.index)
            if old is None or old == element:
                continue
            self.line_name[line.index] = element
            naming = self.lines_naming.get(old, [])
            if line in naming:
                naming.remove(line)
                if not naming:
                    del self.lines_naming[old]
            self.lines_naming.setdefault(element, []).append(line)
            self.lines_naming[element].sort(key=lambda other: other.index)
            for use in loop.contexts:
                if use.line is line:
                    use.name = element

    def _element_spelling(self, loop: Inference) -> str | None:
        """``{x}*N`` when the body spells the element that way, else the plain ``<*`` name (R§3.3)."""
        info = loop.loop
        assert info is not None
        plain = info.element.canonical_name if info.element is not None else None
        if plain is None and info.element_lines:
            plain = info.element_lines[0].concept.canonical_name  # type: ignore[union-attr]
        if plain is None:
            return None
        versioned = f"{plain}*{info.index}"
        for inference in self.body_of(loop):
            for use in inference.values + inference.contexts:
                if use.name == versioned:
                    return versioned
        return plain

    # ------------------------------------------------------------------ queries

    def body_of(self, loop: Inference) -> list[Inference]:
        """The loop's body (R§4.3): the loop-body inference and every inference below the ``*.`` line."""
        assert loop.loop is not None
        return self.under(loop.loop.operator_line.flow_index)

    def under(self, index: str) -> list[Inference]:
        """Inferences whose index equals or extends ``index``: a contiguous run in flow order."""
        key = flow_key(index)
        start = bisect_left(self._keys, key)
        end = bisect_left(self._keys, key[:-1] + (key[-1] + 1,))
        return self.inferences[start:end]

    @cached_property
    def ground_declared(self) -> frozenset[str]:
        """Names with a ground declaration on some line naming them (L§7.3)."""
        return frozenset(
            name for name, lines in self.lines_naming.items() if any(ground_declaration(line) is not None for line in lines)
        )

    def is_ground_declared(self, name: str) -> bool:
        return name in self.ground_declared

    def is_produced(self, name: str) -> bool:
        return name in self.producers or name in self.loop_provided

    def is_ground(self, name: str) -> bool:
        """Ground (R§2.5): declared ground, or never produced."""
        return self.is_ground_declared(name) or not self.is_produced(name)

    def declared_axes(self, name: str) -> list[str] | None:
        """The first ``%{ref_axes}`` declaration of a concept, parsed; None when undeclared."""
        for line in self.lines_naming.get(name, ()):
            annotation = line.annotation("ref_axes")
            if annotation is not None:
                return parse_axes(annotation.value)
        return None

    @cached_property
    def edges(self) -> dict[str, dict[str, Edge]]:
        """Dependency edges as adjacency (producer → consumer), CHECKS.md §3.3: an edge P → I when I reads (as
        value, context or function concept) a concept P produces, plus the support edge from each inference
        to the nearest inference whose index is a proper prefix of its own. Loop-provided concepts (a loop's
        element and carried names read inside its body) add no edge; a self-read of a concept that has
        another producer is the pass-through pattern (L§5.4), not an edge."""
        edges: dict[str, dict[str, Edge]] = {inference.flow_index: {} for inference in self.inferences}
        function_producers: dict[str, list[Inference]] = {}
        for inference in self.inferences:
            if inference.kind in ("gate", "loop_body"):
                function_producers.setdefault(inference.cti, []).append(inference)
        accumulators = self.accumulators
        for inference in self.inferences:
            for use in inference.values + inference.contexts:
                if self._loop_provides(use.name, inference):
                    continue
                producers = self.producers.get(use.name, ())
                for producer in producers:
                    if producer is inference and (len(producers) > 1 or producer.flow_index in accumulators):
                        continue  # pass-through, or an append's own read of its destination
                    source = self._accumulator_source(producer, inference, accumulators)
                    if source is not None:
                        edges[source.flow_index].setdefault(inference.flow_index, Edge(use.name, use.line.line))
            for producer in function_producers.get(inference.function, ()):
                if producer.flow_index.startswith(inference.flow_index + "."):
                    edges[producer.flow_index].setdefault(
                        inference.flow_index, Edge(inference.function, inference.function_line.line)
                    )
            supported = self.supported_inference(inference)
            if supported is not None:
                edges[inference.flow_index].setdefault(supported.flow_index, Edge(None, inference.source_line))
        # Erratum E7: in-place appends to one destination in one loop body apply in flow-index order.
        previous: dict[tuple[str, str], Inference] = {}
        for flow_index, loop in sorted(accumulators.items(), key=lambda item: flow_key(item[0])):
            append = self.by_index[flow_index]
            key = (loop.flow_index, append.cti)
            earlier = previous.get(key)
            if earlier is not None:
                edges[earlier.flow_index].setdefault(flow_index, Edge(append.cti, append.source_line))
            previous[key] = append
        return edges

    @cached_property
    def accumulators(self) -> dict[str, Inference]:
        """In-place ``$+`` inferences inside a loop body (flow index -> the innermost loop L whose body contains
        it; erratum E8), for the accumulator rule of C§3.3 (FIDELITY §4)."""
        found: dict[str, Inference] = {}
        for inference in self.inferences:
            node = inference.functional
            if inference.kind != "ordinary" or not (isinstance(node, Operator) and node.op == "$+"):
                continue
            if self._append_result_name(inference.cti_line) is None or not inference.enclosing_loops:
                continue
            found[inference.flow_index] = inference.enclosing_loops[-1]
        return found

    def _accumulator_source(
        self, producer: Inference, consumer: Inference, accumulators: dict[str, Inference]
    ) -> Inference | None:
        """Where the edge for ``consumer`` reading ``producer``'s cti starts (C§3.3 "Accumulators", FIDELITY §4
        with errata E7 and E8): the producer itself, except for an in-place ``$+`` A in the body of loop L —
        readers in L's body see the iteration-start value (no edge), except later appends to the same destination,
        which wait for A in flow-index order; L itself reads its base or initial value (no edge); every other
        reader waits for L to finish (an edge from L)."""
        loop = accumulators.get(producer.flow_index)
        if loop is None:
            return producer
        if consumer is loop:
            return None
        if loop in consumer.enclosing_loops:
            if consumer.flow_index in accumulators and consumer.cti == producer.cti:
                return producer if producer.key < consumer.key else None
            return None
        return loop

    @property
    def graph(self) -> "networkx.DiGraph":
        """The dependency graph as a networkx DiGraph (built on demand: importing networkx costs ~0.15 s,
        so the checker's hot path only builds it when a plan has a cycle to analyse)."""
        import networkx

        graph = networkx.DiGraph()
        graph.add_nodes_from(self.edges)
        for source, targets in self.edges.items():
            for target, edge in targets.items():
                graph.add_edge(source, target, concept=edge.concept, line=edge.line)
        return graph

    def assign_candidates(self, inference: Inference) -> list[tuple[str, ConceptRef]]:
        """The ``$.`` candidate list (R§3.3, first rule that applies) as (name, reference) pairs; the loop body
        selects the loop result. Cached: checks, emit and the runtime all ask for it."""
        known = self._candidates.get(inference.flow_index)
        if known is None:
            known = self._candidates[inference.flow_index] = self._candidate_list(inference)
        return known

    def _candidate_list(self, inference: Inference) -> list[tuple[str, ConceptRef]]:
        node = inference.functional
        if not isinstance(node, Operator):
            return []
        selected = _single_ref(node, "%>")
        if inference.kind == "loop_body":
            return [(selected.canonical_name, selected)] if selected is not None else []
        explicit = inference.function_line.annotation("assign_sources")
        if explicit is not None:
            return [(ref.canonical_name, ref) for ref in annotation_concepts(explicit)]
        candidates = node.modifier("%<")
        if candidates is not None:
            return [(item.canonical_name, item) for item in candidates.items if isinstance(item, ConceptRef)]
        if selected is not None and selected.canonical_name in {use.name for use in inference.values}:
            return [(selected.canonical_name, selected)]
        # Rule 4: value concepts that are not propositions and that no inference nested under ANOTHER value line
        # reads (such a read makes it an input of that sibling subtree, not an alternative result).
        read_under: dict[str, set[str]] = {}  # concept -> the value lines under which it is read
        for use in inference.values:
            if use in inference.implicit:
                continue  # named on the functional line: no subtree of its own
            for nested in self.under(use.line.flow_index):
                for read in nested.values + nested.contexts:
                    read_under.setdefault(read.name, set()).add(use.name)
        return [
            (use.name, use.concept)
            for use in inference.values
            if use.concept.kind is not ConceptKind.PROPOSITION and not (read_under.get(use.name, set()) - {use.name})
        ]

    def supported_inference(self, inference: Inference) -> Inference | None:
        """The nearest inference whose index is a proper prefix of this one's (the one it supports)."""
        parts = inference.flow_index.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            found = self.by_index.get(".".join(parts[:depth]))
            if found is not None:
                return found
        return None

    def _loop_provides(self, name: str, inference: Inference) -> bool:
        return any(loop in inference.enclosing_loops for loop in self.loop_provided.get(name, ()))


@dataclass(frozen=True, slots=True)
class AppendRoles:
    """How a ``$+`` reads (L§4.3 ``$+`` row, FIDELITY §3.3): its destination and item, whether the append is in
    place (the result line names the destination) and whether the operands were written swapped (NCD917)."""

    destination: ConceptRef
    item: ConceptRef | None
    in_place: bool
    swapped: bool


def unmarked_name(ref: ConceptRef) -> str:
    """The canonical name without identification markers: core plus loop-version suffixes (erratum E12)."""
    return ref.core + "".join(s.text for s in ref.suffixes_of(LoopVersion))


def append_roles(node: Operator, result: ConceptRef) -> AppendRoles | None:
    """The roles of a ``$+`` whose result line is ``result``; None when ``%>`` is not one concept. In place when
    the result's name without identification markers is the destination's canonical name (E12: ``X <= $+
    %>(X*-1)`` is functional); the roles are read swapped when only the ``%<`` operand is that name."""
    destination = _single_ref(node, "%>")
    item = _single_ref(node, "%<")
    if destination is None:
        return None
    name = unmarked_name(result)
    if destination.canonical_name == name:
        return AppendRoles(destination, item, True, False)
    if item is not None and item.canonical_name == name:
        return AppendRoles(item, destination, True, True)
    return AppendRoles(destination, item, False, False)


def implicit_operand_candidates(inference: Inference) -> list[ConceptRef]:
    """The operands NCD935 looks at, in the textual order of the modifiers then the annotations: ``%>``/``%<`` of
    ``$=``, ``$-``, ``$.``, ``$+``, grouping sources, ``%{value_order}`` and (for ``$.``) ``%{assign_sources}``
    entries; the cti itself is left out where it only names the destination."""
    node = inference.functional
    found: list[ConceptRef] = []
    if isinstance(node, Operator):
        for modifier in node.modifiers:
            if modifier.op not in ("%>", "%<"):
                continue
            if node.op in ("$=", "$-") and modifier.op != "%>":
                continue
            if node.family == "grouping" and modifier.op != "%>":
                continue
            if node.op not in ("$=", "$-", "$.", "$+") and node.family != "grouping":
                continue
            for item in modifier.items:
                if not isinstance(item, ConceptRef):
                    continue
                if item.canonical_name == inference.cti and node.op in ("$.", "$+"):
                    continue  # names the destination (L§4.3 `$.` row, in-place `$+`)
                found.append(item)
    for key in ("value_order", "assign_sources"):
        annotation = inference.function_line.annotation(key)
        if annotation is None or (key == "assign_sources" and not (isinstance(node, Operator) and node.op == "$.")):
            continue
        found.extend(annotation_concepts(annotation))
    return found


def _inline_element(base: ConceptRef | None) -> ConceptRef | None:
    """The element ``{x}`` of an inline declaration ``B<$({x})*>`` on a loop's ``%>`` operand (FIDELITY §3.6)."""
    if base is None:
        return None
    for declaration in base.suffixes_of(ElementDeclaration):
        core = declaration.base.strip()
        if declaration.carry is None and core[:1] in "{[<" and core:
            kind = {"{": ConceptKind.OBJECT, "[": ConceptKind.RELATION, "<": ConceptKind.PROPOSITION}[core[0]]
            return ConceptRef(kind, core, (), declaration.span)
    return None


def _single_ref(node: Operator, op: str) -> ConceptRef | None:
    modifier = node.modifier(op)
    if modifier is None or len(modifier.items) != 1 or not isinstance(modifier.items[0], ConceptRef):
        return None
    return modifier.items[0]


def _is_timing(line: ConceptLine) -> bool:
    node = line.node
    return isinstance(node, Operator) and node.family == "timing"
