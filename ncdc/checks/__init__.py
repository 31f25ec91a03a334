"""Rule families on the plan model, one module each (CHECKS.md §3.3-§3.6).

The parser layer (source, legacy, parse, flow) and the parser-layer families here (``annotations``,
``structure``, ``operators``) run on the IR; the families below run on the plan model (ncdc/plan.py). Each
family exposes ``check(model, reporter, options)`` and reports with stable codes.
"""

from __future__ import annotations

from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter


def run_model_checks(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    from ncdc.checks import graph, loops, typing_rules

    for family in (graph, typing_rules, loops):
        family.check(model, reporter, options)
