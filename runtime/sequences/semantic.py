"""Imperative and judgement (RUNTIME §5.5): value order, selectors, per-cell calls, outputs, truth assertions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.reference import (Error, Reference, ReferenceModelError, Skip, align, truth_value)
from runtime.sequences import Outcome, StepFailure, View

Call = Callable[[list[Any], Any], Any]     # one executor call: (positional args, cell context) -> element value
Perceive = Callable[[Any], Any]            # element -> perceived value (raises StepFailure)
Context = Callable[[tuple[int, ...]], Any]  # cell positions -> the executor's cell context


def ordered_inputs(inf: dict[str, Any]) -> list[str]:
    wi = inf["working_interpretation"]
    order = wi.get("value_order")
    if order is None:
        return list(inf["value_concepts"])
    rank = {n: i for i, n in enumerate(inf["value_concepts"])}
    return sorted(order, key=lambda n: (order[n], rank.get(n, len(rank))))


def build_inputs(inf: dict[str, Any], view: View) -> tuple[list[Reference], list[bool]]:
    """The positional input References after selectors; a parallel list says which are spread (`packed: false`)."""
    fi = inf["flow_info"]["flow_index"]
    selectors = inf["working_interpretation"].get("value_selectors") or {}
    refs, spread = [], []
    for name in ordered_inputs(inf):
        sel = selectors.get(name) or {}
        src = sel.get("source_concept") or name
        ref = view.get(src)
        if ref is None:
            raise StepFailure("no_output", f"inference {fi}: input {src} has no value")
        if "key" in sel or "index" in sel:
            from runtime.sequences.assigning import selection
            ref = selection(ref, {k: sel[k] for k in ("key", "index") if k in sel}, None)
        if sel.get("unpack"):
            ref = ref.spread(f"{name}#item")
        if sel.get("collapse"):
            ref = ref.fold(ref.axes)
        refs.append(ref)
        spread.append(sel.get("packed") is False)
    return refs, spread


def run(inf: dict[str, Any], view: View, call: Call, perceive: Perceive, context: Context,
        pmap: Callable[..., Any] | None = None, skip_errors: bool = False) -> Outcome:
    """One execution. With ``skip_errors`` (``--on-cell-error skip``, §6.3) a failed cell becomes Skip and its
    error is listed in the outcome's ``meta["errors"]``; otherwise the first failed cell fails the execution."""
    fi = inf["flow_info"]["flow_index"]
    wi = inf["working_interpretation"]
    judgement = inf["inference_sequence"].startswith("judgement")
    try:
        refs, spread = build_inputs(inf, view)
        axes, shape, rows = align(*refs) if refs else (("_none_axis",), (1,), [()])
    except ReferenceModelError as exc:
        raise StepFailure(exc.kind, f"inference {fi}: {exc}") from None
    cells: list[Any] = []
    calls: list[tuple[int, list[Any], tuple[int, ...]]] = []   # (cell index, args, position) still to compute
    errors: list[dict[str, Any]] = []

    def skipped(exc: StepFailure, position: tuple[int, ...]) -> Any:
        exc.element = {"axes": list(axes), "cell": list(position)}
        if not skip_errors or exc.kind in _RUN_STOPS:
            raise exc
        errors.append({"kind": exc.kind, "message": exc.message, "element": exc.element})
        return Skip

    for row in rows:
        if any(x is Skip for x in row):
            cells.append(Skip)
            continue
        err = next((x for x in row if isinstance(x, Error)), None)
        if err is not None:
            cells.append(skipped(StepFailure(err.kind, err.message), _position(len(cells), shape))
                         if skip_errors else err)
            continue
        args: list[Any] = []
        try:
            for x, sp in zip(row, spread):
                value = perceive(x)
                if sp and isinstance(value, list):
                    args.extend(value)
                else:
                    args.append(value)
        except StepFailure as exc:
            if not skip_errors:
                raise
            cells.append(skipped(exc, _position(len(cells), shape)))
            continue
        calls.append((len(cells), args, _position(len(cells), shape)))
        cells.append(None)

    def one(item: tuple[int, list[Any], tuple[int, ...]]) -> Any:
        index, args, position = item
        try:
            return call(args, context(position))
        except StepFailure as exc:
            return skipped(exc, position)
    # independent cells of one step may be computed at once (model calls, §10.2); failures surface in cell order
    values = list(pmap(one, calls)) if pmap is not None and len(calls) > 1 else [one(c) for c in calls]
    for (index, _, _), value in zip(calls, values):
        cells[index] = value
    try:
        out = Reference(axes, shape, cells)
    except ReferenceModelError as exc:  # a result that is no JSON value (or nests too deep): the step's contract
        raise StepFailure(exc.kind, f"inference {fi}: {exc}") from None
    if judgement:
        outcome = judge(fi, out, wi.get("assertion_condition") or {})
    else:
        out_axis = wi.get("output_axis")
        # FIDELITY §1 / RT§5.5: output_axis is set only for a list-kind output; then every answer is laid along
        # it (a list: one position per item; anything else: one position), whatever the resulting length
        if out_axis and out_axis not in out.axes:
            try:
                out = out.spread(out_axis)
            except ReferenceModelError as exc:
                raise StepFailure(exc.kind, f"inference {fi}: {exc}") from None
        outcome = Outcome(out)
    if errors:
        outcome.meta["errors"] = errors
    return outcome


# failures that stop the run rather than describe a cell: never turned into Skip by --on-cell-error skip
_RUN_STOPS = frozenset({"budget", "cancelled"})


def _position(i: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    pos = []
    for n in reversed(shape):
        pos.append(i % n if n else 0)
        i = i // n if n else 0
    return tuple(reversed(pos))


# ---------------------------------------------------------------- truth assertions

def _matches(v: Any, cond: Any) -> bool | None:
    if isinstance(cond, bool):
        t = truth_value(v)
        return None if t is None else t is cond
    if isinstance(v, str) and isinstance(cond, str):
        return v.strip() == cond.strip()
    if isinstance(v, bool) or isinstance(cond, bool):
        return None
    if isinstance(v, (int, float)) or isinstance(v, str):
        return v == cond
    return None


def _reduce(q: str, vals: list[bool]) -> bool:
    if q == "all":
        return all(vals)
    if q in ("some", "exists", "any"):
        return any(vals)
    if q == "none":
        return not any(vals)
    raise StepFailure("contract_error", f"unknown quantifier {q!r}")


def _flat(cells: list[Any]) -> list[bool]:
    out: list[bool] = []
    for c in cells:
        if c is Skip:
            continue
        out.extend(x for x in (c if isinstance(c, list) else [c]) if x is not Skip)
    return out


def judge(fi: str, values: Reference, assertion: dict[str, Any]) -> Outcome:
    cond = assertion.get("condition", True)
    quants: dict[str, str] = dict(assertion.get("quantifiers") or {})

    def to_bool(x: Any) -> Any:
        if isinstance(x, list):
            return [to_bool(i) for i in x]
        m = _matches(x, cond)
        if m is None:
            raise StepFailure("contract_error", f"inference {fi}: judgement returned {x!r}, which is not a truth "
                                                f"value comparable with {cond!r}")
        return m

    for c in values.cells():
        if isinstance(c, Error):
            raise StepFailure(c.kind, f"inference {fi}: {c.message}")
    bools = Reference(values.axes, values.shape, [c if c is Skip else to_bool(c) for c in values.cells()])
    each = [k for k, q in quants.items() if q == "for-each"]
    collapsing = [(k, q) for k, q in quants.items() if q != "for-each"]
    if each:
        axis = each[0]
        if axis not in bools.axes:
            raise StepFailure("contract_error", f"inference {fi}: for-each axis {axis!r} is not an axis of the "
                                                f"judged values {list(bools.axes)}")
        out = []
        for i in range(bools.size_of(axis)):
            part = bools.slice(axis, i)
            if not part.has_value():
                out.append(Skip)
                continue
            for k, q in collapsing:
                if k in part.axes and len(part.axes) > 1:
                    part = part.fold([k]).map(lambda v, q=q: _reduce(q, _flat([v])))
            last = collapsing[-1][1] if collapsing else "all"
            out.append(_reduce(last, _flat(part.cells())))
        ref = Reference([axis], [len(out)], out)
        return Outcome(ref, {"condition_met": any(x is True for x in out), "for_each_axis": axis})
    if quants:
        vals = _flat(bools.cells())
        result = all(_reduce(q, vals) for q in quants.values())
        return Outcome(Reference.singleton(result), {"condition_met": result})
    return Outcome(bools, {"condition_met": any(x is True for x in _flat(bools.cells()))})
