"""Dependency-graph rules and structure warnings on the plan model (CHECKS.md §3.3, §3.6).

Errors: NCD301 (dependency cycle; an in-place ``$+`` in a loop body follows the accumulator rule, FIDELITY §4),
NCD303 (ground concept also produced), NCD304 (conflicting declarations), NCD305 (one functional text, conflicting
executor annotations).
Warnings and infos: NCD924 (gate condition without a ``<*`` line), NCD925 (unused context concept), NCD926
(identification marker on a ``$+`` result), NCD927 (nested gate), NCD930 (several producers), NCD931 (implicit
ground concept), NCD932 (``$.`` with several ungated candidates), NCD933 (result never used), NCD934
(near-duplicate names), NCD935 (operand not declared as a sibling line, an implicit input; it replaces the retired
NCD302) and, with ``--check-files``, NCD949 (referenced file not found).

The rules live in ``graph_cycles`` (NCD301), ``graph_declarations`` (NCD935, NCD303-NCD305), ``graph_context``
(NCD924-NCD927), ``graph_usage`` (NCD930-NCD934) and ``graph_files`` (NCD949); ``_graph_facts`` holds what they
share. This module runs them in a fixed order: NCD935 records the inferences whose operands name nothing, which
NCD932/NCD933 then treat as reading everything, and the order is also the order of the diagnostics.

Every pass is one walk over the inferences or the lines with dictionaries for look-ups (the ``$.`` candidate
rule of R§3.3 scans the subtrees of that inference's value lines, each a slice of the flow order). The cycle
analysis imports networkx only when the cheap ``graphlib`` test has found a cycle.

Rules skip what an earlier error explains (CHECKS.md §1.5, §4): inferences with a line that failed to parse;
extra producers that are second roots (NCD202); cycles in which a loop body waits for its own loop (NCD511); and
an inference whose operand names nothing in the plan (NCD935, NCD504) is taken to read every line it names, so
that NCD932/NCD933 do not cascade from it.
"""

from __future__ import annotations

from pathlib import Path

from ncdc.checks import graph_context, graph_cycles, graph_declarations, graph_files, graph_prompts, graph_usage
from ncdc.checks._graph_facts import GraphFacts
from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    facts = GraphFacts(model, reporter)
    graph_cycles.check(facts)
    graph_declarations.check(facts)  # before graph_usage: fills facts.undeclared
    graph_context.check(facts)
    graph_usage.check(facts)
    if options.check_files:
        plan_dir = options.plan_dir if options.plan_dir is not None else Path(reporter.path).parent
        graph_files.check(facts, plan_dir)
        graph_prompts.check(facts, plan_dir)  # NCD956: a prompt file that exists but cannot render


__all__ = ["check"]
