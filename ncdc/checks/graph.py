"""Dependency-graph rules and structure warnings on the plan model (CHECKS.md §3.3, §3.6).

Errors: NCD301 (dependency cycle), NCD302 (operand not declared as a sibling line), NCD303 (ground concept also
produced), NCD304 (conflicting declarations), NCD305 (one functional text, conflicting executor annotations).
Warnings and infos: NCD924 (gate condition without a ``<*`` line), NCD925 (unused context concept), NCD926
(identification marker on a ``$+`` result), NCD927 (nested gate), NCD930 (several producers), NCD931 (implicit
ground concept), NCD932 (``$.`` with several ungated candidates), NCD933 (result never used), NCD934
(near-duplicate names) and, with ``--check-files``, NCD949 (referenced file not found).

Every pass is one walk over the inferences or the lines with dictionaries for look-ups (the ``$.`` candidate
rule of R§3.3 scans the subtrees of that inference's value lines, each a slice of the flow order). The cycle
analysis imports networkx only when the cheap ``graphlib`` test has found a cycle.

Rules skip what an earlier error explains (CHECKS.md §1.5, §4): inferences with a line that failed to parse;
extra producers that are second roots (NCD202); cycles in which a loop body waits for its own loop (NCD511); and
an inference whose operand names nothing in the plan (NCD302, NCD504) is taken to read every line it names, so
that NCD932/NCD933 do not cascade from it.
"""

from __future__ import annotations

import json
import re
from collections import deque
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from ncdc.annotation_keys import is_literal_key
from ncdc.diagnostics import Related
from ncdc.ir import (
    Binding,
    CommentKind,
    ConceptKind,
    ConceptLine,
    ConceptRef,
    IdentificationMarker,
    Marker,
    Operator,
    Semantic,
    Span,
)
from ncdc.options import CheckOptions
from ncdc.plan import Inference, PlanModel, annotation_concepts, declared_data, ground_declaration, parse_axes
from ncdc.source import Reporter

# Sequences whose executors never receive context concepts (NCD925).
_CONTEXT_FREE_SEQUENCES = ("imperative_in_composition", "judgement_in_composition", "assigning", "grouping")
_PYTHON_BINDING = re.compile(r"^(?P<path>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
_DATA_KEYS = ("file_location", "prompt_location", "script_location")  # files read at run time (NCD949)
_EXECUTOR_KEYS = ("v_input_provision", "norm_input", "python", "v_function_name", "prompt")


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    graph = _Graph(model, reporter)
    graph.cycles()
    graph.operands()
    graph.ground_produced()
    graph.conflicting_declarations()
    graph.conflicting_executors()
    graph.gates()
    graph.unused_contexts()
    graph.append_markers()
    graph.several_producers()
    graph.implicit_ground()
    graph.ungated_candidates()
    graph.unused_results()
    graph.near_duplicates()
    if options.check_files:
        graph.missing_files(options.plan_dir if options.plan_dir is not None else Path(reporter.path).parent)


# ---------------------------------------------------------------------------------------------------------------
# small helpers on the IR
# ---------------------------------------------------------------------------------------------------------------


def _op(inference: Inference) -> str | None:
    node = inference.functional
    return node.op if isinstance(node, Operator) else None


def _refs(node: Operator, op: str) -> list[ConceptRef]:
    modifier = node.modifier(op)
    if modifier is None:
        return []
    return [item for item in modifier.items if isinstance(item, ConceptRef)]


def _operand(node: Operator, op: str) -> ConceptRef | None:
    modifier = node.modifier(op)
    if modifier is None or len(modifier.items) != 1 or not isinstance(modifier.items[0], ConceptRef):
        return None
    return modifier.items[0]


def _bound(inference: Inference) -> bool:
    return any(isinstance(s, Binding) for use in inference.values for s in use.concept.suffixes)


def _append_destination(inference: Inference) -> ConceptRef | None:
    """The ``%>`` destination of a ``$+`` inference whose result line denotes it (same core), else None."""
    node = inference.functional
    if not isinstance(node, Operator) or node.op != "$+" or inference.kind != "ordinary":
        return None
    destination = _operand(node, "%>")
    result = inference.cti_line.concept
    if destination is None or result is None or destination.core != result.core:
        return None
    return destination


def _declaration_span(line: ConceptLine, kind: str) -> Span:
    """Where a ground declaration of ``line`` is written (for NCD303)."""
    if kind == "literal":
        for annotation in line.annotations:
            if annotation.sigil == "%" and (is_literal_key(annotation.key) or annotation.key == "literal_value"):
                return annotation.span
        concept = line.concept
        return concept.span if concept is not None else line.span
    if kind in ("comment", "input"):
        if kind == "comment":
            for comment in line.comments:
                if comment.kind is CommentKind.DESCRIPTION and comment.text.startswith("Ground:"):
                    return comment.span
        return line.span
    annotation = line.annotation(kind)
    return annotation.span if annotation is not None else line.span


def _show(value: object) -> str:
    if value is None:
        return "(runtime provided)"
    return json.dumps(value, ensure_ascii=False)


def _paradigm(value: str) -> str:
    match = re.match(r"^[^\s(]+", value.strip())
    return match.group(0) if match else value.strip()


def _executor_signature(line: ConceptLine) -> dict[str, object]:
    signature: dict[str, object] = {}
    for key in _EXECUTOR_KEYS:
        annotation = line.annotation(key)
        if key == "norm_input" and annotation is None:
            annotation = line.annotation("paradigm")
        if annotation is None:
            signature[key] = None
        elif key == "v_input_provision":
            signature[key] = tuple(p for p in annotation.value.replace(",", " ").split() if p)
        elif key == "norm_input":
            signature[key] = _paradigm(annotation.value)
        else:
            signature[key] = annotation.value.strip()
    return signature


_SPACE_INSIDE = re.compile(r"(?<=[{\[<(]) | (?=[}\]>)])")


def _normalized(name: str) -> str:
    """Lower-cased, whitespace runs collapsed, no space just inside a bracket (NCD934)."""
    text = " ".join(name.lower().split())
    return _SPACE_INSIDE.sub("", text) if " " in text else text


# ---------------------------------------------------------------------------------------------------------------
# the rules
# ---------------------------------------------------------------------------------------------------------------


class _Graph:
    def __init__(self, model: PlanModel, reporter: Reporter) -> None:
        self.model = model
        self.reporter = reporter
        self.path = reporter.path
        # Flow indices of inferences with an undeclared operand (NCD302) that names no concept of the plan: what
        # they read is unknown, so NCD932/NCD933 take them to use every line they name (no cascade).
        self.undeclared: set[str] = set()
        # Value concept -> ordinary inferences producing it; a ``$+`` whose result line carries an
        # identification marker also produces its destination (L§3.3: the marker is a label only; the model
        # keys it by the marked name, which the lines reading the result also use).
        self.producers: dict[str, list[Inference]] = {}
        for name, producers in model.producers.items():
            self.producers.setdefault(name, []).extend(producers)
        for inference in model.inferences:
            destination = _append_destination(inference)
            if destination is not None and destination.canonical_name != inference.cti:
                self.producers.setdefault(destination.canonical_name, []).append(inference)
        for producers in self.producers.values():
            producers.sort(key=lambda inference: inference.key)
        root = model.plan.root
        root_concept = root.concept if root is not None else None
        self.root_name = root_concept.canonical_name if root_concept is not None else None
        self._ground = self._ground_names(model)
        self._guarded: dict[str, bool] = {}

    # -------------------------------------------------------------------------------------------- helpers

    def ground_declared(self, name: str) -> bool:
        return name in self._ground

    @staticmethod
    def _ground_names(model: PlanModel) -> set[str]:
        """Concepts with a ground declaration on some line (L§7.3), in one pass over the lines."""
        names: set[str] = set()
        for line in model.plan.lines:
            concept = line.concept
            if concept is None or concept.canonical_name in names:
                continue
            if (  # cheap filter: every kind of declaration needs one of these
                line.annotations
                or line.comments
                or line.tail_description is not None
                or line.marker is Marker.INPUT
                or (concept.kind is ConceptKind.OBJECT and '"' in concept.core)
            ) and ground_declaration(line) is not None:
                names.add(concept.canonical_name)
        return names

    def produced(self, name: str) -> bool:
        return name in self.producers or name in self.model.loop_provided

    def related(self, line: ConceptLine, message: str) -> Related:
        return Related(self.path, line.line, line.span.column, message)

    @staticmethod
    def in_main_tree(inference: Inference) -> bool:
        """False for inferences under a second root (NCD202 already reports that tree)."""
        return inference.key[0] == 1

    def candidates(self, inference: Inference, node: Operator) -> list[tuple[str, ConceptRef]]:
        """The ``$.`` candidate list of R§3.3 (shared with emit and the runtime through the model)."""
        return self.model.assign_candidates(inference)

    def reads(self, inference: Inference) -> list[str]:
        """The concepts an inference *uses* (CHECKS.md §3.6 NCD933): bound or ordered inputs, ``$.`` candidates,
        grouping sources, gate conditions, loop base and initial values, assigning operands. An inference whose
        operands are unknown (a failed line, an undeclared operand) is taken to use every line it names."""
        everything = [use.name for use in inference.values + inference.contexts]
        node = inference.functional
        if not inference.complete or inference.flow_index in self.undeclared or node is None:
            return everything
        if inference.kind == "gate":
            return [use.name for use in inference.values]
        if isinstance(node, Semantic):
            order = inference.function_line.annotation("value_order")
            if order is not None:
                return [ref.canonical_name for ref in annotation_concepts(order)]
            if _bound(inference):
                return [
                    use.name
                    for use in inference.values
                    if any(isinstance(s, Binding) for s in use.concept.suffixes)
                ]
            return [use.name for use in inference.values]
        assert isinstance(node, Operator)
        if node.op == "$.":
            names = [name for name, _ in self.candidates(inference, node)]
            if inference.kind == "loop_body" and not set(names) <= {use.name for use in inference.values}:
                return everything  # the body selects an undeclared result (NCD504)
            return names if names else everything
        if node.op in ("$=", "$-"):
            return [ref.canonical_name for ref in _refs(node, "%>")]
        if node.op == "$+":
            return [ref.canonical_name for ref in _refs(node, "%>") + _refs(node, "%<")]
        if node.op == "$%":
            return []
        if node.family == "grouping":
            return [ref.canonical_name for ref in _refs(node, "%>")]
        if node.family == "looping":
            return [use.name for use in inference.values]
        return everything

    def function_producer(self, inference: Inference) -> Inference | None:
        """The gate or loop-body inference whose cti is this inference's function concept."""
        found = self.model.by_index.get(inference.function_line.flow_index)
        if found is not None and found is not inference and found.kind in ("gate", "loop_body"):
            return found
        return None

    def guarded(self, name: str, visiting: frozenset[str] = frozenset()) -> bool:
        """A ``$.`` candidate guarded by a gate: every producer is gated, or is a ``$=``/``$.`` that passes on
        only guarded concepts (a gated producer further up)."""
        known = self._guarded.get(name)
        if known is not None:
            return known
        producers = self.producers.get(name)
        result = False
        if producers and name not in visiting and not self.ground_declared(name):
            result = True
            for producer in producers:
                if producer.gated_by is not None:
                    continue
                node = producer.functional
                if isinstance(node, Operator) and node.op in ("$=", "$.") and producer.complete:
                    inner = (
                        [ref.canonical_name for ref in _refs(node, "%>")]
                        if node.op == "$="
                        else [n for n, _ in self.candidates(producer, node)]
                    )
                    if inner and all(self.guarded(n, visiting | {name}) for n in inner):
                        continue
                result = False
                break
        if not visiting:
            self._guarded[name] = result
        return result

    # -------------------------------------------------------------------------------------------- NCD301

    def cycles(self) -> None:
        edges = self.model.edges
        # Inferences whose lines failed to parse are left out (their reads are unknown: one mistake, one
        # diagnostic), and so are self-reads of ground data, which never wait.
        incomplete = {inference.flow_index for inference in self.model.inferences if not inference.complete}
        exempt = {
            source
            for source, targets in edges.items()
            if source in targets and self._exempt_self_read(targets[source].concept)
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
        by_index = self.model.by_index
        components = []
        for component in networkx.strongly_connected_components(graph):
            if len(component) == 1:
                (only,) = component
                if only not in edges[only]:
                    continue
            components.append(sorted(component, key=lambda index: by_index[index].key))
        for members in sorted(components, key=lambda m: by_index[m[0]].key):
            if self._loop_feeds_own_body(members):
                continue  # the loop body waits for the loop's own result: NCD511 (loops) reports it
            self._report_cycle(members, edges)

    def _exempt_self_read(self, concept: str | None) -> bool:
        # A self-read of a concept declared ground is not a wait: ground data is complete at start-up (a `$+`
        # appending to declared initial data, or NCD303).
        return concept is not None and self.ground_declared(concept)

    def _loop_feeds_own_body(self, members: list[str]) -> bool:
        inside = set(members)
        for index in members:
            loop = self.model.by_index[index]
            if loop.loop is None:
                continue
            if any(body.flow_index in inside for body in self.model.body_of(loop)):
                return True
        return False

    def _report_cycle(self, members: list[str], edges) -> None:
        by_index = self.model.by_index
        inside = set(members)
        waits_for: dict[str, list[str]] = {index: [] for index in members}  # consumer -> producers, in the SCC
        for source in members:
            for target in edges[source]:
                if target in inside:
                    waits_for[target].append(source)
        start = members[0]
        path = self._shortest_cycle(start, waits_for)
        first = by_index[start]
        steps = [f"{by_index[i].cti} (line {by_index[i].source_line})" for i in path]
        shown = " -> ".join(steps + [first.cti])
        why = "it waits for its own result, so it" if len(path) == 1 else "each waits for the next, so none of them"
        related = tuple(
            self.related(by_index[i].cti_line, f"in the cycle: {by_index[i].cti}") for i in members
        )
        self.reporter.at(
            "NCD301",
            first.cti_line.span,
            f"dependency cycle: {shown} ({why} can ever start)",
            help="break the cycle: give the inner step an input that is produced earlier instead of a result "
            "that depends on it",
            related=related,
        )

    @staticmethod
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

    # -------------------------------------------------------------------------------------------- NCD302

    def operands(self) -> None:
        for inference in self.model.inferences:
            if inference.kind != "ordinary" or not inference.complete:
                continue
            node = inference.functional
            line = inference.function_line
            siblings = {use.name for use in inference.values + inference.contexts}
            checked: list[tuple[ConceptRef, str]] = []
            if isinstance(node, Operator):
                if node.op in ("$=", "$-"):
                    checked += [(ref, f"`{node.op}` `%>`") for ref in _refs(node, "%>")]
                elif node.op == "$.":
                    checked += [
                        (ref, "`$.` `%>`") for ref in _refs(node, "%>") if ref.canonical_name != inference.cti
                    ]
                    checked += [(ref, "`$.` `%<`") for ref in _refs(node, "%<")]
                elif node.op == "$+":
                    checked += [(ref, "`$+` `%>`") for ref in _refs(node, "%>")]
                    checked += [(ref, "`$+` `%<`") for ref in _refs(node, "%<")]
                elif node.family == "grouping":
                    checked += [(ref, f"`{node.op}` source") for ref in _refs(node, "%>")]
            for key in ("value_order", "assign_sources"):
                annotation = line.annotation(key)
                if annotation is not None and (key == "value_order" or _op(inference) == "$."):
                    checked += [(ref, f"`%{{{key}}}` entry") for ref in annotation_concepts(annotation)]
            for ref, role in checked:
                name = ref.canonical_name
                if name in siblings:
                    continue
                if not self.produced(name) and name not in self.model.lines_naming:
                    self.undeclared.add(inference.flow_index)  # names nothing known: what it reads is unknown
                self.reporter.at(
                    "NCD302",
                    ref.span,
                    f"operand {ref.canonical_name} ({role}) is not declared as a sibling line of the operation "
                    f"that computes {inference.cti} (line {inference.source_line})",
                    help=f"add `<- {ref.canonical_name}` as a child of line {inference.source_line} (produced by its "
                    "own operation or declared as ground data), or name a concept that is declared there",
                )

    # -------------------------------------------------------------------------------------------- NCD303

    def ground_produced(self) -> None:
        for name, producers in self.producers.items():
            if not self.ground_declared(name):
                continue
            if all(_append_destination(p) is not None for p in producers):
                continue  # declared data is the initial value of a `$+` accumulation
            for line in self.model.lines_naming.get(name, ()):
                kind = ground_declaration(line)
                if kind is None:
                    continue
                producer = next(p for p in producers if _append_destination(p) is None)
                self.reporter.at(
                    "NCD303",
                    _declaration_span(line, kind),
                    f"{name} is declared ground here but is also computed by the inference at line "
                    f"{producer.source_line}; consumers would read the declared data, never the computed value",
                    help="remove the ground declaration, or give the computed value a different name",
                    related=(self.related(producer.cti_line, f"{name} is produced here"),),
                )
                break

    # -------------------------------------------------------------------------------------------- NCD304

    def conflicting_declarations(self) -> None:
        for name, lines in self.model.lines_naming.items():
            if len(lines) < 2:
                continue
            first_axes: tuple[list[str], ConceptLine] | None = None
            first_data: tuple[tuple[str, object], ConceptLine] | None = None
            for line in lines:
                annotation = line.annotation("ref_axes")
                if annotation is not None:
                    axes = parse_axes(annotation.value)
                    if first_axes is None:
                        first_axes = (axes, line)
                    elif axes != first_axes[0]:
                        self.reporter.at(
                            "NCD304",
                            annotation.span,
                            f"{name} is declared with axes [{', '.join(axes)}] here but with "
                            f"[{', '.join(first_axes[0])}] at line {first_axes[1].line}",
                            help="declare the axes identically on every line, or only once",
                            related=(self.related(first_axes[1], f"first axes declaration of {name}"),),
                        )
                data = declared_data(line) if line.annotations or '"' in name else None
                if data is not None:
                    kind, value, span = data.kind, data.value, data.span
                    if first_data is None:
                        first_data = ((kind, value), line)
                    elif (kind, value) != first_data[0]:
                        self.reporter.at(
                            "NCD304",
                            span,
                            f"{name} is declared with ground data {_show(value)} here but with "
                            f"{_show(first_data[0][1])} at line {first_data[1].line}",
                            help="give the concept one ground declaration (or make them identical)",
                            related=(self.related(first_data[1], f"first data declaration of {name}"),),
                        )

    # -------------------------------------------------------------------------------------------- NCD305

    def conflicting_executors(self) -> None:
        for text, lines in self.model.function_lines.items():
            if len(lines) < 2:
                continue
            first = lines[0]
            expected = _executor_signature(first)
            for line in lines[1:]:
                found = _executor_signature(line)
                keys = [key for key in _EXECUTOR_KEYS if found[key] != expected[key]]
                if not keys:
                    continue
                which = ", ".join(f"%{{{key}}}" for key in keys)
                self.reporter.at(
                    "NCD305",
                    line.span,
                    f"the functional concept {text} also occurs at line {first.line} with a different {which}; the "
                    "repository keeps one entry per functional text, so one of them would run with the other's "
                    "prompt or script",
                    help="word the two operations differently, or give them identical executor annotations",
                    related=(self.related(first, f"first occurrence of {text}"),),
                )

    # -------------------------------------------------------------------------------------------- NCD924, NCD927

    def gates(self) -> None:
        lines = self.model.plan.lines
        for gate in self.model.inferences:
            if gate.kind != "gate" or not gate.complete or not gate.values:
                continue
            condition = gate.values[0].name
            head = gate.cti_line
            timing = gate.function_line
            node = head.node
            if head.marker is Marker.FUNCTION and isinstance(node, Operator) and node.family == "timing":
                outer = _operand(node, "%>")
                gated = lines[head.parent] if head.parent is not None else head
                self.reporter.at(
                    "NCD927",
                    timing.span,
                    f"nested gate: this gate on {condition} guards the timing line at line {head.line}"
                    + (f" (on {outer.canonical_name})" if outer is not None else "")
                    + f"; when it skips, that outer gate counts as passed and the operation at line {gated.line} "
                    "runs unconditionally",
                    help="combine the conditions in one judgement and gate the operation once",
                    related=(self.related(head, "the outer timing line"),),
                )
            children = [lines[i] for i in head.children]
            if any(c.marker is Marker.CONTEXT and c.concept is None for c in children):
                continue  # a context line failed to parse: it may be the declaration
            if any(c.marker is Marker.CONTEXT and c.concept.canonical_name == condition for c in children):  # type: ignore[union-attr]
                continue
            self.reporter.at(
                "NCD924",
                timing.span,
                f"gate condition {condition} is not declared as a `<*` line under the gated line {head.line}",
                help=f"add `<* {condition}` as a child of line {head.line}, after the timing line",
            )

    # -------------------------------------------------------------------------------------------- NCD925

    def unused_contexts(self) -> None:
        for inference in self.model.inferences:
            if inference.kind != "ordinary" or not inference.complete or not inference.contexts:
                continue
            if inference.sequence not in _CONTEXT_FREE_SEQUENCES:
                continue
            gate = inference.gated_by
            condition = gate.values[0].name if gate is not None and gate.values else None
            kind = inference.sequence.split("_")[0]
            for use in inference.contexts:
                if use.name == condition:
                    continue
                self.reporter.at(
                    "NCD925",
                    use.line.span,
                    f"context concept {use.name} is loaded but never passed to the {kind} operation that "
                    f"computes {inference.cti}",
                    help=f"make it an input (`<- {use.name}`) or remove the line",
                )

    # -------------------------------------------------------------------------------------------- NCD926

    def append_markers(self) -> None:
        for inference in self.model.inferences:
            if not inference.complete or _append_destination(inference) is None:
                continue
            concept = inference.cti_line.concept
            assert concept is not None
            for marker in concept.suffixes_of(IdentificationMarker):
                self.reporter.at(
                    "NCD926",
                    marker.span,
                    f"the identification marker {marker.text} on the `$+` result {concept.core} is a label only: "
                    f"the append happens in place on {concept.core}",
                    help="nothing to fix; drop the marker if the label is not wanted",
                )

    # -------------------------------------------------------------------------------------------- NCD930

    def several_producers(self) -> None:
        for name, producers in self.producers.items():
            if len(producers) < 2:
                continue
            counted = [p for p in producers if _append_destination(p) is None]
            keys = [p.key for p in counted]
            kept = []
            for position, producer in enumerate(counted):
                if _op(producer) in ("$.", "$=") and any(
                    k[: len(producer.key)] == producer.key for k in keys[position + 1 : position + 2]
                ):
                    continue  # pass-through: re-exports the concept produced inside its own subtree (L§5.4 a)
                kept.append(producer)
            if len(kept) < 2:
                continue
            first = kept[0]
            for extra in kept[1:]:
                if not extra.complete or (extra.cti_line.depth == 0 and extra.cti_line is not self.model.plan.root):
                    continue  # a failed line, or a second root (NCD202)
                self.reporter.at(
                    "NCD930",
                    extra.cti_line.span,
                    f"{name} is also produced here; its first producer is the inference at line {first.source_line}, "
                    "and consumers read whichever finishes first",
                    help="give the results distinct names (select among gated alternatives with `$.`), or remove "
                    "one producer",
                    related=(self.related(first.cti_line, f"first producer of {name}"),),
                )

    # -------------------------------------------------------------------------------------------- NCD931

    def implicit_ground(self) -> None:
        mentioned: dict[str, Span] = {}  # consumed concept -> its first mention by a reading line or operand
        for inference in self.model.inferences:
            if not inference.complete:
                continue  # a failed line may be the one that declares or produces what it reads
            # A loop's context lines declare its element and carried concepts (NCD503, NCD507), whose names
            # the model keys by the declaration line rather than by the body's spelling (`{x}` for `{x}*1`).
            uses = inference.values if inference.loop is not None else inference.values + inference.contexts
            for use in uses:
                span = use.concept.span
                known = mentioned.get(use.name)
                if known is None or (span.line, span.column) < (known.line, known.column):
                    mentioned[use.name] = span
        for name, mention in mentioned.items():
            if self.produced(name) or self.ground_declared(name):
                continue
            lines = self.model.lines_naming.get(name)
            span = lines[0].span if lines else mention
            self.reporter.at(
                "NCD931",
                span,
                f"{name} is consumed but never produced and not declared ground: the run's inputs file must "
                "supply it, or the run is blocked at start",
                help=f"declare {name} ground (`%{{file_location}}`, `%{{literal_value}}`, ...) or give it a "
                "producing operation",
            )

    # -------------------------------------------------------------------------------------------- NCD932

    def ungated_candidates(self) -> None:
        for inference in self.model.inferences:
            node = inference.functional
            if (
                inference.kind != "ordinary"
                or not inference.complete
                or not isinstance(node, Operator)
                or node.op != "$."
                or inference.flow_index in self.undeclared
            ):
                continue
            candidates = self.candidates(inference, node)
            ungated = [name for name, _ in candidates if not self.guarded(name)]
            if len(ungated) < 2:
                continue
            self.reporter.at(
                "NCD932",
                inference.function_line.span,
                f"`$.` for {inference.cti} has {len(ungated)} candidates not guarded by a gate "
                f"({', '.join(ungated)}): the first one resolved always wins and the others are dead work",
                help="gate the alternatives, or keep a single ungated fallback as the last candidate",
            )

    # -------------------------------------------------------------------------------------------- NCD933

    def unused_results(self) -> None:
        if self.root_name is None:
            return
        reached: set[str] = set()
        queue: deque[Inference] = deque()

        def reach(inference: Inference) -> None:
            if inference.flow_index not in reached:
                reached.add(inference.flow_index)
                queue.append(inference)

        for producer in self.producers.get(self.root_name, ()):
            reach(producer)
        while queue:
            inference = queue.popleft()
            for name in self.reads(inference):
                for producer in self.producers.get(name, ()):
                    reach(producer)
            function = self.function_producer(inference)
            if function is not None:
                reach(function)
        for inference in self.model.inferences:
            if (
                inference.flow_index in reached
                or inference.kind != "ordinary"
                or not inference.complete
                or not self.in_main_tree(inference)
            ):
                continue
            self.reporter.at(
                "NCD933",
                inference.cti_line.span,
                f"the result {inference.cti} is never used on any path to the plan output {self.root_name}: the "
                "step still runs and costs time",
                help="bind it as an input where it is needed, use it in an operation, or delete the step",
            )

    # -------------------------------------------------------------------------------------------- NCD934

    def near_duplicates(self) -> None:
        first_of: dict[tuple[ConceptKind, str], tuple[str, ConceptLine]] = {}
        for name, lines in self.model.lines_naming.items():
            concept = lines[0].concept
            if concept is None or (concept.kind is ConceptKind.OBJECT and '"' in name and concept.literal is not None):
                continue
            key = (concept.kind, _normalized(name))
            found = first_of.get(key)
            if found is None:
                first_of[key] = (name, lines[0])
                continue
            other, other_line = found
            self.reporter.at(
                "NCD934",
                lines[0].span,
                f"{name} differs from {other} (line {other_line.line}) only in letter case or spacing: the two "
                "names never connect",
                help=f"use one spelling, e.g. {other}",
                related=(self.related(other_line, f"first spelling {other}"),),
            )

    # -------------------------------------------------------------------------------------------- NCD949

    def missing_files(self, plan_dir: Path) -> None:
        root = plan_dir.resolve()
        cache: dict[str, bool] = {}

        def exists(path: str) -> bool:
            found = cache.get(path)
            if found is None:
                target = (root / path).resolve()
                found = target.is_file() and (target == root or root in target.parents)
                cache[path] = found
            return found

        for line in self.model.plan.lines:
            for annotation in line.annotations:
                if annotation.sigil != "%":
                    continue
                key, value = annotation.key, annotation.value.strip()
                paths: list[str] = []
                if key == "v_input_provision":
                    paths = [p for p in value.replace(",", " ").split() if p]
                    what = "provision"
                elif key == "prompt" and line.marker is Marker.FUNCTION:
                    paths = [value] if value else []
                    what = "prompt template"
                elif key == "python" and line.marker is Marker.FUNCTION:
                    match = _PYTHON_BINDING.match(value)
                    paths = [match.group("path")] if match else []
                    what = "binding module"
                elif key in _DATA_KEYS and line.marker is not Marker.FUNCTION:
                    paths = [value] if value and value != "(runtime provided)" else []
                    what = "data file"
                for path in paths:
                    if exists(path):
                        continue
                    self.reporter.at(
                        "NCD949",
                        annotation.span,
                        f"{what} `{path}` named by `%{{{key}}}` does not exist under the plan's directory",
                        help="fix the path (relative to the plan's directory) or add the file",
                    )
