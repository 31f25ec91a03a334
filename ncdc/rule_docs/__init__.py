"""Rule documentation: one entry per code (what it detects, why it matters at run time, a bad example and the
fix). The single source for ``ncdc explain``, the SARIF rule help and the documentation tests; one module
per rule family, merged here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleDoc:
    what: str  # what the rule detects, and where it is reported
    why: str  # the run-time impact
    bad: str  # a minimal bad example (plan text)
    fix: str  # the fix, as text or a corrected example


def all_docs() -> dict[str, RuleDoc]:
    from ncdc.rule_docs import graph, loops, parser, typing_rules

    docs: dict[str, RuleDoc] = {}
    for family in (parser, graph, typing_rules, loops):
        docs.update(family.DOCS)
    return docs
