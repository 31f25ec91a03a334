"""Loop rules (CHECKS.md §3.5 and the NCD95x rows of §3.6): NCD501-NCD512, NCD950-NCD952.

The rules live in four modules, by what they look at: ``loop_shape`` (the ``*.`` line and its children:
NCD501-NCD505, NCD950), ``loop_names`` (element and carried names: NCD506-NCD509, NCD952), ``loop_body`` (what a
body produces: NCD510, NCD512, NCD951) and ``loop_deadlock`` (NCD511); ``_loop_facts`` builds the per-loop facts
they share. This module runs them in a fixed order, which is also the order of the diagnostics they report.

Costs: every rule is one pass over the lines or the inferences, plus work per loop proportional to that loop's
own children; NCD511 runs one strongly-connected-components pass over the dependency edges, and only when some
body reads a concept produced outside its loop body.
"""

from __future__ import annotations

from ncdc.checks import loop_body, loop_deadlock, loop_names, loop_shape
from ncdc.checks._loop_facts import collect_loops
from ncdc.ir import Marker, Operator
from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    lines = model.plan.lines
    star_lines = [
        line
        for line in lines
        if line.marker is Marker.FUNCTION and isinstance(line.node, Operator) and line.node.op == "*."
    ]
    if not star_lines:
        loop_names.check_references(model, reporter, [])  # stray `*N` / `*-N` names outside any loop
        return
    malformed = loop_shape.check_shapes(model, reporter, star_lines)
    loops = collect_loops(model, malformed)

    loop_shape.check_unique_expressions(model, reporter, star_lines)
    loop_shape.check_indices(model, reporter, loops)
    for loop in loops:
        if not loop.inference.complete:
            continue
        loop_shape.check_operands(model, reporter, loop)
        loop_names.check_carried(model, reporter, loop)
    loop_names.check_references(model, reporter, loops)
    appends = loop_body.check_appends(model, reporter, loops)
    loop_body.check_functional_appends(model, reporter)
    loop_body.check_invariant_producers(model, reporter, loops, appends)
    loop_body.check_outside_consumers(model, reporter, loops, appends)
    loop_deadlock.check_own_result(model, reporter, loops)


__all__ = ["check"]
