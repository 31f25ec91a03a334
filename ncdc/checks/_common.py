"""Small IR helpers that several rule families share (graph, loops, typing).

They are here, not in one family's module, so that the families stay independent of each other: a family module
imports this one and the plan model, never another family.
"""

from __future__ import annotations

from ncdc.diagnostics import Related
from ncdc.ir import ConceptLine, ConceptRef, Operator


def operand(node: Operator, op: str) -> ConceptRef | None:
    """The single concept of modifier ``op`` (``%>(X)``), else None (missing, several items or a literal:
    NCD212 / NCD117 report those)."""
    modifier = node.modifier(op)
    if modifier is None or len(modifier.items) != 1 or not isinstance(modifier.items[0], ConceptRef):
        return None
    return modifier.items[0]


def related(path: str, line: ConceptLine, message: str) -> Related:
    """A related location pointing at the start of ``line``."""
    return Related(path, line.line, line.span.column, message)
