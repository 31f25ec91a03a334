"""Looping (RUNTIME §5.4): the pure parts — loop axis, elements by position, carried values, the aggregate.

The iteration state machine (activation, body scopes, reset, re-reading the base) lives in the scheduler, which
calls these functions.
"""

from __future__ import annotations

from typing import Any

from runtime.reference import NONE_AXIS, Reference, ReferenceModelError, SkipType, stack
from runtime.sequences import StepFailure


def loop_axis(syntax: dict[str, Any], base: Reference) -> str:
    group_base = syntax.get("group_base")
    return group_base if group_base in base.axes else base.axes[0]


def size(base: Reference, axis: str) -> int:
    return base.size_of(axis)


def element(base: Reference, axis: str, position: int) -> Reference:
    return base.slice(axis, position)


def carried_value(history: list[Reference], iteration: int, carry_over: int,
                  initial: Reference | None) -> Reference | None:
    """Value of a carried name in iteration ``iteration`` (1-based): X at the end of iteration i-N, else I0."""
    back = iteration - carry_over
    if back >= 1 and back <= len(history):
        return history[back - 1]
    return initial


def aggregate(fi: str, results: list[Reference | SkipType], axis: str, output_axis: str | None) -> Reference:
    """stack(results, loop axis); a per-iteration `_none_axis` is named `value` (§5.4)."""
    named = [r.rename_axis(NONE_AXIS, "value") if isinstance(r, Reference) and NONE_AXIS in r.axes else r
             for r in results]
    try:
        out = stack(named, output_axis or axis, default_axes=("value",))
    except ReferenceModelError as exc:
        raise StepFailure(exc.kind, f"loop {fi}: iteration results do not stack: {exc}") from None
    return out
