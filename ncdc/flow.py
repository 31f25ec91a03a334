"""The concept-line tree and flow indices (LANGUAGE.md §5.1, §6).

Indices are always computed structurally; explicit ``?{flow_index}`` annotations are only verified
(``verify_explicit_indices``), against either the computed or the heads-only convention.
"""

from __future__ import annotations

import re

from ncdc.ir import Annotation, ConceptLine
from ncdc.source import Reporter

_DOTTED = re.compile(r"^[1-9]\d*(\.[1-9]\d*)*$")


def build_tree(depths: list[int]) -> tuple[list[int | None], list[tuple[int, ...]]]:
    """Parent and children (indices) of each concept line; children are the lines one level deeper."""
    parents: list[int | None] = []
    children: list[list[int]] = [[] for _ in depths]
    stack: list[int] = []  # stack[d] = the latest line at depth d
    for i, depth in enumerate(depths):
        del stack[depth:]
        parent = stack[depth - 1] if depth > 0 and len(stack) >= depth else None
        parents.append(parent)
        if parent is not None:
            children[parent].append(i)
        stack.append(i)
    return parents, [tuple(c) for c in children]


def flow_indices(depths: list[int]) -> list[str]:
    """The canonical computation of LANGUAGE.md §6.1: one counter per depth."""
    counters: list[int] = []
    result: list[str] = []
    for depth in depths:
        del counters[depth + 1 :]
        counters.extend([0] * (depth + 1 - len(counters)))
        counters[depth] += 1
        result.append(".".join(map(str, counters)))
    return result


def heads_only_indices(parents: list[int | None], children: list[tuple[int, ...]]) -> list[str | None]:
    """Heads-only numbering (LANGUAGE.md §6.3 rule 2): only lines with children are numbered."""
    result: list[str | None] = [None] * len(parents)
    count_under: dict[int | None, int] = {}
    roots = 0
    for i, parent in enumerate(parents):
        if not children[i]:
            continue
        if parent is None:
            roots += 1
            result[i] = "1" if roots == 1 else str(roots)
            continue
        parent_index = result[parent]
        if parent_index is None:  # cannot happen: a parent has children
            continue
        count_under[parent] = count_under.get(parent, 0) + 1
        result[i] = f"{parent_index}.{count_under[parent]}"
    return result


def verify_explicit_indices(lines: tuple[ConceptLine, ...], reporter: Reporter) -> None:
    """NCD116 for malformed values; NCD921 for values that do not match the file's convention."""
    explicit: list[tuple[ConceptLine, Annotation]] = []
    for line in lines:
        for annotation in line.annotations:
            if annotation.sigil != "?" or annotation.key != "flow_index":
                continue
            value = annotation.value.strip()
            if not _DOTTED.match(value):
                reporter.at(
                    "NCD116",
                    annotation.span,
                    f"malformed `?{{flow_index}}` value `{value}`: expected dotted positive integers such as `1.2.3`",
                    help="correct the index or delete the annotation",
                )
                continue
            explicit.append((line, annotation))
    if not explicit:
        return
    computed = sum(1 for line, a in explicit if a.value.strip() == line.flow_index)
    heads = sum(1 for line, a in explicit if a.value.strip() == line.heads_only_index)
    if computed == len(explicit) or heads == len(explicit):
        return
    use_heads = heads > computed
    convention = "heads-only" if use_heads else "computed"
    for line, annotation in explicit:
        expected = line.heads_only_index if use_heads else line.flow_index
        value = annotation.value.strip()
        if value == expected:
            continue
        reporter.at(
            "NCD921",
            annotation.span,
            f"explicit flow index {value} differs from the {convention} index of this line "
            f"(computed: {line.flow_index}, heads-only: {line.heads_only_index or '—'})",
            help="correct it or delete it; indices are always computed from indentation",
        )
