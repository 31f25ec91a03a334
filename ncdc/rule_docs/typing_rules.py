"""Rule documentation of one family; filled in by its owner."""

from __future__ import annotations

from ncdc.rule_docs import RuleDoc

DOCS: dict[str, RuleDoc] = {}
