"""Assigning (RUNTIME §5.1): `$=` `$%` `$.` `$+` `$-`."""

from __future__ import annotations

from typing import Any

from runtime.reference import (NONE_AXIS, Reference, ReferenceModelError, Skip, append, from_data, parse_sign)
from runtime.sequences import Outcome, StepFailure, View, need


def run(inf: dict[str, Any], view: View) -> Outcome:
    syntax = inf["working_interpretation"]["syntax"]
    fi = inf["flow_info"]["flow_index"]
    marker = syntax["marker"]
    try:
        if marker == "=":
            return Outcome(need(view, syntax["canonical_concept"], fi))
        if marker == "%":
            return Outcome(abstraction(syntax["face_value"], syntax.get("axis_names") or [NONE_AXIS]))
        if marker == ".":
            return Outcome(specification(syntax["assign_source"], syntax["assign_destination"], view))
        if marker == "+":
            dest = view.get(syntax["assign_destination"])
            item = need(view, syntax["assign_source"], fi)
            by_axes = syntax.get("by_axes") or []
            if dest is not None and not dest.has_value() and dest.axes == (NONE_AXIS,):
                dest = None
            if dest is not None and dest.axes == (NONE_AXIS,) and isinstance(dest.cells()[0], list):
                # E10: a destination that is one list value grows inside: the item's leaves join that list
                return Outcome(Reference.singleton(dest.cells()[0] + item.leaves()))
            axis = by_axes[0] if by_axes else (dest.axes[0] if dest is not None else NONE_AXIS)
            return Outcome(append(dest, item, axis))
        if marker == "-":
            return Outcome(selection(need(view, syntax["assign_source"], fi), syntax.get("selector") or {},
                                     syntax.get("axis")))
    except ReferenceModelError as exc:
        raise StepFailure(exc.kind, f"inference {fi}: {exc}") from None
    raise StepFailure("contract_error", f"inference {fi}: unknown assigning marker {marker!r}")


def abstraction(face: Any, axes: list[str]) -> Reference:
    """`$%` (RT§5.1 as amended by FIDELITY §5): a sign, a string or a ``["_none_axis"]`` layout is one element
    holding the face value; a list is laid out along the named axes."""
    if isinstance(face, str) or parse_sign(face) is not None or not isinstance(face, list) or axes == [NONE_AXIS]:
        return Reference.singleton(face) if axes == [NONE_AXIS] else from_data([face], axes)
    return from_data(face, axes)


def specification(sources: Any, dest: str, view: View) -> Reference:
    for name in sources if isinstance(sources, list) else [sources]:
        ref = view.get(name)
        if ref is not None and ref.has_value():
            return ref
    current = view.get(dest)
    if current is not None and current.has_value():
        return current
    return Reference.skip()


def _select(x: Any, selector: dict[str, Any]) -> Any:
    if "index" in selector:
        if not isinstance(x, list):
            return Skip
        i = selector["index"]
        return x[i] if -len(x) <= i < len(x) else Skip
    if "key" in selector:
        if not isinstance(x, dict):
            return Skip
        key = selector["key"]
        if key in x:
            return x[key]
        bare = key.strip("{}[]<>") if isinstance(key, str) else key
        return x.get(bare, Skip)
    return x


def selection(src: Reference, selector: dict[str, Any], axis: str | None) -> Reference:
    picks = {k: v for k, v in selector.items() if k in ("index", "key")}
    axis = axis or "unpacked"
    if selector.get("unpack_before_selection"):
        def each(x: Any) -> Any:
            items = x if isinstance(x, list) else [x]
            return [s for s in (_select(i, picks) for i in items) if s is not Skip]
        return _skip_aware_map(src, each).spread(axis)
    out = _skip_aware_map(src, lambda x: _select(x, picks)) if picks else src
    if selector.get("unpack"):
        out = out.spread(axis)
    return out


def _skip_aware_map(src: Reference, fn: Any) -> Reference:
    """``map`` that lets ``fn`` return Skip (out-of-range index, missing key)."""
    cells = [c if c is Skip else fn(c) for c in src.cells()]
    return Reference(src.axes, src.shape, cells)
