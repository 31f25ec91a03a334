"""Looping (RUNTIME §5.4): the pure parts — loop axis, elements by position, carried values, the aggregate.

The iteration state machine (activation, body scopes, reset, re-reading the base) lives in the scheduler, which
calls these functions.
"""

from __future__ import annotations

from typing import Any

from runtime.reference import NONE_AXIS, Reference, ReferenceModelError, Skip, SkipType, stack
from runtime.sequences import StepFailure


def loop_axis(syntax: dict[str, Any], base: Reference) -> str:
    """RT§5.4 (FIDELITY §1/§2): ``group_base`` if it is an axis of B's value, else B's first axis other than
    ``_none_axis``; a base that is a single value (only ``_none_axis``) is iterated over its items along an axis
    named ``group_base``."""
    group_base = syntax.get("group_base")
    if group_base in base.axes:
        return group_base
    named = [a for a in base.axes if a != NONE_AXIS]
    if named:
        return named[0]
    return group_base or NONE_AXIS


def _single(base: Reference, axis: str) -> bool:
    """True when the loop axis is not an axis of B's value: B is one value whose items are the positions."""
    return axis not in base.axes and base.axes == (NONE_AXIS,) and base.shape == (1,)


def size(base: Reference, axis: str) -> int:
    """B's current number of positions (re-read before each iteration, RT§5.4 step 5)."""
    if axis in base.axes:
        return base.size_of(axis)
    if not _single(base, axis):
        return 0
    value = base.cells()[0]
    if value is Skip:
        return 0
    # one level, by position, duplicates kept: an item that is itself a list is one element
    return len(value) if isinstance(value, list) else 1


def element(base: Reference, axis: str, position: int) -> Reference:
    """The element at ``position`` as a ``_none_axis`` singleton (RT§5.4 step 1)."""
    if axis in base.axes:
        return base.slice(axis, position)
    value = base.cells()[0]
    return Reference.singleton(value[position] if isinstance(value, list) else value)


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
