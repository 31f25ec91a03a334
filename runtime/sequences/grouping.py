"""Grouping (RUNTIME §5.2): `&[{}]` (in) and `&[#]` (across)."""

from __future__ import annotations

from typing import Any

from runtime.reference import NONE_AXIS, Reference, ReferenceModelError, Skip, align
from runtime.sequences import Outcome, StepFailure, View


def run(inf: dict[str, Any], view: View) -> Outcome:
    syntax = inf["working_interpretation"]["syntax"]
    fi = inf["flow_info"]["flow_index"]
    try:
        return Outcome(group(syntax, view))
    except ReferenceModelError as exc:
        raise StepFailure(exc.kind, f"inference {fi}: {exc}") from None


def group(syntax: dict[str, Any], view: View) -> Reference:
    marker = syntax["marker"]
    sources = syntax["sources"]
    by_axes = syntax.get("by_axes")
    if by_axes is None and "by_axis_concepts" in syntax:
        # legacy mode (§5.2, foreign repositories): collapse the axes the named context concepts have
        legacy = [a for n in syntax["by_axis_concepts"] if (r := view.get(n)) is not None for a in r.axes
                  if a != NONE_AXIS]
        by_axes = [legacy for _ in sources]
    by_axes = by_axes or [[] for _ in sources]
    protect = set(syntax.get("protect_axes") or [])
    create = syntax.get("create_axis")
    names: list[str] = []
    folded: list[Reference] = []
    for i, name in enumerate(sources):
        ref = view.get(name)
        if ref is None or not ref.has_value():
            continue
        axes = [a for a in (by_axes[i] if i < len(by_axes) else []) if a not in protect]
        names.append(name)
        folded.append(ref.fold(axes, strict=False))
    if not folded:
        return Reference.skip()
    axes, shape, rows = align(*folded)
    cells: list[Any] = []
    for row in rows:
        if marker == "in":
            pairs = [(n, v) for n, v in zip(names, row) if v is not Skip]
            cells.append([{n: v} for n, v in pairs] if create else dict(pairs))
        else:
            flat: list[Any] = []
            for v in row:
                if v is Skip:
                    continue
                if isinstance(v, list):
                    flat.extend(x for x in v if x is not Skip)
                else:
                    flat.append(v)
            cells.append(flat)
    if all(not c for c in cells):
        return Reference.skip()
    out = Reference(axes, shape, cells)
    if create:
        out = out.spread(create)
    return out
