"""What the dependency-graph rules share (CHECKS.md §3.3, §3.6): one ``GraphFacts`` per plan, built once and
passed to each graph module (``graph_cycles``, ``graph_declarations``, ``graph_context``, ``graph_usage``,
``graph_files``), plus the small IR helpers several of them use.

The facts hold what more than one rule needs: the producers of each concept (with ``$+`` destinations), the
concepts declared ground, the plan's output concept, and the inferences whose operands name nothing in the
plan. That last set is filled by NCD935 (``graph_declarations``) and read by NCD932/NCD933 (``graph_usage``),
so the graph modules run in the order ``ncdc.checks.graph.check`` gives.
"""

from __future__ import annotations

from ncdc.checks import _common
from ncdc.diagnostics import Related
from ncdc.ir import ConceptKind, ConceptLine, ConceptRef, Marker, Operator
from ncdc.declarations import ground_declaration
from ncdc.plan import Inference, PlanModel, append_roles
from ncdc.source import Reporter


class GraphFacts:
    """Per-plan facts shared by the graph rules (see the module docstring)."""

    def __init__(self, model: PlanModel, reporter: Reporter) -> None:
        self.model = model
        self.reporter = reporter
        self.path = reporter.path
        # Flow indices of inferences with an undeclared operand (NCD935) that names no concept of the plan: what
        # they read is unknown, so NCD932/NCD933 take them to use every line they name (no cascade).
        self.undeclared: set[str] = set()
        # Value concept -> ordinary inferences producing it; a ``$+`` whose result line carries an
        # identification marker also produces its destination (L§3.3: the marker is a label only; the model
        # keys it by the marked name, which the lines reading the result also use).
        self.producers: dict[str, list[Inference]] = {}
        for name, producers in model.producers.items():
            self.producers.setdefault(name, []).extend(producers)
        for inference in model.inferences:
            destination = append_destination(inference)
            if destination is not None and destination.canonical_name != inference.cti:
                self.producers.setdefault(destination.canonical_name, []).append(inference)
        for producers in self.producers.values():
            producers.sort(key=lambda inference: inference.key)
        root = model.plan.root
        root_concept = root.concept if root is not None else None
        # The model's name for the root line (an in-place `$+` result names its destination, L§3.3).
        self.root_name = model.line_name.get(root.index, root_concept.canonical_name) if root_concept is not None else None
        self._ground = self._ground_names(model)

    def ground_declared(self, name: str) -> bool:
        """Whether some line declares ``name`` ground (L§7.3)."""
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
        """Whether an inference produces ``name`` or a loop provides it (element, carried value)."""
        return name in self.producers or name in self.model.loop_provided

    def related(self, line: ConceptLine, message: str) -> Related:
        """A related location in this plan's file."""
        return _common.related(self.path, line, message)


def operator_of(inference: Inference) -> str | None:
    """The operator (``$.``, ``&[#]``, ...) of an inference's function line, None for a semantic one."""
    node = inference.functional
    return node.op if isinstance(node, Operator) else None


def refs(node: Operator, op: str) -> list[ConceptRef]:
    """The concepts listed in modifier ``op`` (literal items left out), [] without the modifier."""
    modifier = node.modifier(op)
    if modifier is None:
        return []
    return [item for item in modifier.items if isinstance(item, ConceptRef)]


def append_destination(inference: Inference) -> ConceptRef | None:
    """The destination of an in-place ``$+`` inference (its result line denotes it, erratum E12), else None; a
    functional ``$+`` (result named otherwise) is an ordinary producer of its own result."""
    node = inference.functional
    if not isinstance(node, Operator) or node.op != "$+" or inference.kind != "ordinary":
        return None
    result = inference.cti_line.concept
    roles = append_roles(node, result) if result is not None else None
    if roles is None or not roles.in_place:
        return None
    return roles.destination
