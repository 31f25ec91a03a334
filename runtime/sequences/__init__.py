"""Sequence semantics (RUNTIME §5): pure functions of an inference entry and a private view of its inputs.

Sequences never talk to the store or the network; executor calls come in as callables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from runtime.reference import Reference


class StepFailure(Exception):
    """An inference that cannot produce its value; ``kind`` is a §6.1 error kind."""

    def __init__(self, kind: str, message: str, element: Any = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.element = element


@dataclass
class Outcome:
    """What one execution produced: its value (None for timing) and metadata (condition_met, for_each_axis)."""

    value: Reference | None
    meta: dict[str, Any] = field(default_factory=dict)


View = Mapping[str, Reference]


def need(view: View, name: str, fi: str) -> Reference:
    """The value of ``name`` in the view, or a ``no_output`` failure naming it."""
    ref = view.get(name)
    if ref is None:
        raise StepFailure("no_output", f"inference {fi}: operand {name} has no value")
    return ref
