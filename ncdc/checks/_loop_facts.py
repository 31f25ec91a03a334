"""What the loop rules know about each loop (CHECKS.md §3.5), computed once and shared by the loop modules.

A loop ``<- P`` / ``<= *. %>(B) %<(R) %:(X) %@(N)`` is two inferences (LANGUAGE.md §5.1 rule 3): the looping
inference at P (its base, initial values, element and carried declarations are children of P, beside the
``*.`` line) and the loop body, the ``*.`` line's subtree (REPOSITORY_FORMAT.md §4.3). The plan model gives each
looping inference a ``LoopInfo`` and the body as a slice of the flow-ordered inferences; ``Loop`` adds the
per-line view the rules need (where the body ends in the line list, the element's two spellings, the carried
names). The small IR helpers below are used by more than one of the loop modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ncdc.ir import ConceptLine, ConceptRef, ElementDeclaration, LoopVersion, Operator
from ncdc.plan import Inference, PlanModel


@dataclass(eq=False)
class Loop:
    """One looping inference with what the rules need about it."""

    inference: Inference
    parent: ConceptLine  # P: the line whose function is the ``*.`` line
    star: ConceptLine  # the ``*.`` line
    operator: Operator
    last: int  # index (in plan.lines) of the last line of the body (the ``*.`` line's subtree)
    plain: str | None  # the element as declared (``%:`` operand, else the first ``<*`` declaration)
    versioned: str | None  # ``plain*N``
    carried_names: dict[str, ConceptLine] = field(default_factory=dict)  # ``X*-N`` -> its declaration line
    carried_targets: dict[str, tuple[str, int, ConceptLine]] = field(default_factory=dict)  # X -> (X*-N, N, line)
    plain_uses: list[tuple[ConceptLine, ConceptRef]] = field(default_factory=list)
    versioned_uses: list[tuple[ConceptLine, ConceptRef]] = field(default_factory=list)
    malformed: bool = False  # NCD501 reported: the body shape is unknown

    @property
    def index(self) -> int:
        info = self.inference.loop
        assert info is not None
        return info.index

    def contains(self, inference: Inference) -> bool:
        """Whether ``inference`` lies in this loop's body (R§4.3)."""
        return under(inference.flow_index, self.star.flow_index)


def under(index: str, prefix: str) -> bool:
    """Whether flow index ``index`` is ``prefix`` or below it (a body is a subtree of flow indices)."""
    return index == prefix or index.startswith(prefix + ".")


def last_descendant(model: PlanModel, line: ConceptLine) -> int:
    """Index in ``plan.lines`` of the last line of ``line``'s subtree: a subtree is a contiguous run of lines."""
    lines = model.plan.lines
    while line.children:
        line = lines[line.children[-1]]
    return line.index


def collect_loops(model: PlanModel, malformed: set[int]) -> list[Loop]:
    """One ``Loop`` per looping inference, in flow order; ``malformed`` holds the ``*.`` lines NCD501 reported."""
    loops: list[Loop] = []
    for inference in model.inferences:
        info = inference.loop
        if info is None:
            continue
        star = info.operator_line
        node = star.node
        assert isinstance(node, Operator)
        plain = info.element.canonical_name if info.element is not None else None
        if plain is None and info.element_lines:
            plain = info.element_lines[0].concept.canonical_name  # type: ignore[union-attr]
        loop = Loop(
            inference,
            inference.cti_line,
            star,
            node,
            last_descendant(model, star),
            plain,
            f"{plain}*{info.index}" if plain is not None else None,
            malformed=star.index in malformed,
        )
        for context in info.carried_lines:
            concept = context.concept
            assert concept is not None
            target, n = _carried_target(concept)
            name = f"{target}*-{n}"
            loop.carried_names.setdefault(name, context)
            loop.carried_targets.setdefault(target, (name, n, context))
        loops.append(loop)
    return loops


def _carried_target(concept: ConceptRef) -> tuple[str, int]:
    """``X`` and ``N`` of a carried declaration ``<* X*-N`` or ``<* {x}<$(X)*-N>`` (as the plan model reads it)."""
    declaration = next(iter(concept.suffixes_of(ElementDeclaration)), None)
    if declaration is not None and declaration.carry is not None:
        return declaration.base, declaration.carry
    versions = concept.suffixes_of(LoopVersion)
    n = -versions[-1].versions[-1] if versions else 1
    return concept.core, n


def flag(line: ConceptLine, key: str, value: str) -> object | None:
    """The annotation ``%{key}: value`` (case-insensitive value) on ``line``, for the ``is_invariant`` rules."""
    annotation = line.annotation(key)
    if annotation is not None and annotation.value.strip().lower() == value:
        return annotation
    return None


def lines_named(model: PlanModel, name: str) -> list[ConceptLine]:
    """Every line naming the value concept ``name`` (declarations may sit on any of them)."""
    return model.lines_naming.get(name, [])


def child_lines(model: PlanModel, line: ConceptLine) -> list[ConceptLine]:
    """The child lines of ``line``, in file order (the function line first)."""
    return [model.plan.lines[i] for i in line.children]
