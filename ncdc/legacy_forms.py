"""The current form of a legacy index/sequence tail (NCD120), so that the diagnostic names it (LANGUAGE.md §8,
corpus MANIFEST: "legacy diagnostics MUST name the current equivalent in their message")."""

from __future__ import annotations

import re

_TAIL = re.compile(r"^\s*\|?\s*(\d+(?:\.\d+)*)\.?\s*(.*?)\s*$")
# Legacy sequence words → the sequence families of R§3.3 (`quantifying` was the old name of looping).
_FAMILY = {
    "assignment": "assigning",
    "assigning": "assigning",
    "imperative": "imperative",
    "judgement": "judgement",
    "judgment": "judgement",
    "grouping": "grouping",
    "timing": "timing",
    "looping": "looping",
    "quantifying": "looping",
}


def current_tail_form(legacy: str) -> str:
    """``1.4.1. assignment`` → ``| ?{flow_index}: 1.4.1 | ?{sequence}: assigning``; a sequence word that names no
    family is left out (the index alone is the current form then)."""
    match = _TAIL.match(legacy)
    if match is None:
        return "| ?{flow_index}: N"
    index, rest = match.group(1), match.group(2)
    word = re.match(r"[A-Za-z]+", rest)
    family = _FAMILY.get(word.group(0).lower()) if word else None
    form = f"| ?{{flow_index}}: {index}"
    return form + (f" | ?{{sequence}}: {family}" if family else "")
