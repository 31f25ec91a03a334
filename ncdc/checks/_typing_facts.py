"""What the readiness-typing rules share (CHECKS.md §3.4, §3.6): one ``TypingFacts`` per plan, passed to each
typing module (``typing_gates``, ``typing_bindings``, ``typing_collections``, ``typing_semantic``).

Besides look-ups on an inference's lines and a cache of declared axes (a concept may be read by many
inferences), the facts carry what one rule finds for another: the complete gates (NCD401/NCD402 collect them,
NCD403 compares their texts), the conditions NCD402 reported as produced by a non-judgement, and the imperatives
inferring a proposition (reported as NCD944 at the end unless NCD402 already explains them).
"""

from __future__ import annotations

from ncdc.checks import _common
from ncdc.diagnostics import Related
from ncdc.ir import ConceptKind, ConceptLine, Marker
from ncdc.plan import Inference, PlanModel
from ncdc.source import Reporter

NONE_AXIS = "_none_axis"

KIND_WORD = {
    ConceptKind.OBJECT: "an object `{…}`",
    ConceptKind.RELATION: "a relation `[…]`",
    ConceptKind.PROPOSITION: "a proposition `<…>`",
    ConceptKind.SUBJECT: "a subject `:…:`",
}


class TypingFacts:
    """Per-plan state shared by the typing rules (see the module docstring)."""

    def __init__(self, model: PlanModel, reporter: Reporter) -> None:
        self.model = model
        self.lines = model.plan.lines
        self.reporter = reporter
        self.gates: list[Inference] = []
        self._declared: dict[str, list[str] | None] = {}
        self.imperative_propositions: list[Inference] = []  # NCD944 candidates
        self.unjudged_conditions: set[str] = set()  # gate conditions reported as NCD402 (non-judgement producer)

    def head_children(self, inference: Inference) -> list[ConceptLine]:
        """The concept lines that are inputs of the inference (its head line's children minus the function)."""
        return [self.lines[i] for i in inference.cti_line.children if i != inference.function_line.index]

    def value_lines(self, inference: Inference) -> list[ConceptLine]:
        """The inference's ``<-`` input lines (bindings and grouping sources are declared there)."""
        return [self.lines[i] for i in inference.cti_line.children if self.lines[i].marker is Marker.VALUE]

    def declared_axes(self, name: str) -> list[str] | None:
        """``PlanModel.declared_axes``, cached: a concept may be read by many inferences."""
        if name not in self._declared:
            self._declared[name] = self.model.declared_axes(name)
        return self._declared[name]

    def axes(self, name: str) -> list[str]:
        """Declared axes of a concept without ``_none_axis`` (empty when undeclared or singleton)."""
        return [axis for axis in self.declared_axes(name) or () if axis != NONE_AXIS]

    def related(self, line: ConceptLine, message: str) -> Related:
        """A related location in this plan's file."""
        return _common.related(self.reporter.path, line, message)
