"""``ncdc explain``: the doc page of a code, rendered from the rule catalogue and the rule docs."""

from __future__ import annotations

import textwrap

from ncdc.rule_docs import all_docs
from ncdc.rules import RULES


def _block(text: str) -> str:
    return textwrap.indent(text.rstrip("\n"), "    ") + "\n"


def explain(code: str) -> str | None:
    rule = RULES.get(code)
    if rule is None:
        return None
    if rule.severity is None:
        page = f"{code} — {rule.title}\n\nThis code is retired and never reported; it is reserved so that it is never reused.\n"
        if rule.replaced_by:
            page += f"Replaced by: {rule.replaced_by}.\n"
        return page
    doc = all_docs().get(code)
    out = [f"{code} — {rule.title} ({rule.severity.value})\n"]
    if doc is None:
        return "".join(out)
    out.append(f"\nWhat\n{_block(textwrap.fill(doc.what, 100))}")
    out.append(f"\nWhy it matters\n{_block(textwrap.fill(doc.why, 100))}")
    out.append(f"\nBad\n{_block(doc.bad)}")
    out.append(f"\nFix\n{_block(doc.fix)}")
    return "".join(out)


def index() -> str:
    return "".join(
        f"{code}  {(rule.severity.value if rule.severity else 'retired'):<8} {rule.title}\n" for code, rule in RULES.items()
    )
