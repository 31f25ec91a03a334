"""Timing (RUNTIME §5.3): gate decisions for `@:'` (if), `@:!` (if!) and `@.` (after)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.reference import Reference, Skip, truth_value


@dataclass(frozen=True)
class Decision:
    passed: bool
    mask: tuple[str, tuple[bool, ...]] | None = None  # (axis, keep flags) for a for-each condition


def holds(ref: Reference, meta: dict[str, Any] | None) -> bool:
    """"The condition holds": the recorded ``condition_met``, else ≥1 true and no false element."""
    if meta and meta.get("condition_met") is not None:
        return bool(meta["condition_met"])
    truths = [truth_value(x) for x in ref.leaves()]
    return any(t is True for t in truths) and not any(t is False for t in truths)


def decide(marker: str, cond: Reference | None, meta: dict[str, Any] | None) -> Decision:
    if marker == "after":
        return Decision(True)
    if cond is None or not cond.has_value():
        return Decision(False)
    want = marker == "if"
    axis = (meta or {}).get("for_each_axis")
    if axis and axis in cond.axes:
        keep = []
        for i in range(cond.size_of(axis)):
            vals = [truth_value(x) for x in cond.slice(axis, i).cells() if x is not Skip]
            keep.append(bool(vals) and any(v is want for v in vals))
        return Decision(any(keep), (axis, tuple(keep)))
    return Decision(holds(cond, meta) is want)
