"""Rule families (CHECKS.md §3.3-§3.6).

The parser layer (source, legacy, parse, flow) and the parser-layer families here (``annotations``,
``structure``, ``operators``) run on the IR; the families below run on the plan model (ncdc/plan.py). Each
family exposes ``check(model, reporter, options)`` and reports with stable codes: ``graph`` (NCD30x, NCD92x-NCD93x,
NCD949), ``typing_rules`` (NCD40x, NCD923, NCD94x, NCD953) and ``loops`` (NCD50x, NCD95x). A family's entry module
only runs its rule modules in order (``graph_*``, ``typing_*``, ``loop_*``), one sub-family each, so that no module
grows past a few hundred lines; what a family's rules share is in its ``_*_facts`` module, and the few IR helpers
shared across families are in ``_common``.
"""

from __future__ import annotations

from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter


def run_model_checks(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    from ncdc.checks import graph, loops, typing_rules

    for family in (graph, typing_rules, loops):
        family.check(model, reporter, options)
    _drop_flat_loop_cascade(model, reporter)


def _drop_flat_loop_cascade(model: PlanModel, reporter: Reporter) -> None:
    """FIDELITY §3.5: a flat loop is one NCD501 naming the nested form; the NCD502/NCD506/NCD931 that only follow
    from the missing body (inside the per-iteration result's subtree) are not reported."""
    from ncdc.checks.loop_shape import flat_loop_cascade_lines

    inside = flat_loop_cascade_lines(model)
    if inside:
        reporter.diagnostics[:] = [
            d for d in reporter.diagnostics if not (d.code in ("NCD502", "NCD506", "NCD931") and d.line in inside)
        ]
