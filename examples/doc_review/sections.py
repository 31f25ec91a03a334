"""Deterministic document splitting for the doc_review example (a Python binding, so it also runs under replay)."""

from __future__ import annotations


def split_sections(document: str) -> list[str]:
    """The `## ` sections of a Markdown document, each with its heading line, in document order.

    Text before the first `## ` heading (the title) is not a section. A document without `## ` headings is one
    section.
    """
    sections: list[list[str]] = []
    for line in document.splitlines():
        if line.startswith("## "):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    if not sections:
        return [document.strip()]
    return ["\n".join(lines).strip() for lines in sections]
