"""The parser front end: bytes → ``Plan`` (typed IR with spans and flow indices) + diagnostics.

Stages: decode → line pre-pass (source.py) → legacy screen (legacy.py) → lark payload parsing (parse.py)
→ tree and flow indices (flow.py). Structure rules and annotation rules run on the result (checks/).
"""

from __future__ import annotations

from dataclasses import dataclass

from ncdc.diagnostics import Diagnostic
from ncdc.flow import build_tree, flow_indices, heads_only_indices
from ncdc.ir import ConceptLine, Plan
from ncdc.legacy import screen, trailing_index
from ncdc.legacy_forms import current_tail_form
from ncdc.parse import PayloadParser
from ncdc.source import RawLine, Reporter, decode, prepass
from ncdc.spellings import canonicalise


@dataclass(frozen=True)
class ParseResult:
    plan: Plan
    diagnostics: list[Diagnostic]
    failed_lines: frozenset[int]  # concept-line indices whose payload did not parse


def parse_plan(data: bytes | str, path: str = "<plan>") -> ParseResult:
    """Parse a plan; never raises for bad input (every problem is a diagnostic)."""
    reporter = Reporter(path)
    text = decode(data, reporter) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    pre = prepass(text, reporter)
    nodes = [_parse_payload(raw, reporter) for raw in pre.lines]
    parents, children = build_tree([raw.depth for raw in pre.lines])
    indices = flow_indices([raw.depth for raw in pre.lines])
    heads = heads_only_indices(parents, children)
    lines = [
        ConceptLine(
            index=i,
            marker=raw.marker,
            depth=raw.depth,
            indent=raw.indent,
            payload=raw.payload,
            node=nodes[i],
            annotations=tuple(raw.annotations),
            comments=tuple(raw.comments),
            tail_description=raw.tail_description,
            parent=parents[i],
            children=children[i],
            flow_index=indices[i],
            heads_only_index=heads[i],
            span=raw.span,
            payload_span=raw.payload_span,
            source="\n".join(pre.source_lines[raw.number - 1 : raw.end_line]),
        )
        for i, raw in enumerate(pre.lines)
    ]
    # Accepted spellings → preferred form in the IR (FIDELITY §3, §6; NCD917), once the tree is linked.
    lines = canonicalise(lines, reporter)
    plan = Plan(path, tuple(lines), tuple(pre.header_annotations), tuple(pre.source_lines))
    failed = frozenset(i for i, node in enumerate(nodes) if node is None)
    return ParseResult(plan, reporter.diagnostics, failed)


def _parse_payload(raw: RawLine, reporter: Reporter):
    """The IR node of a concept line's payload, or None (after reporting) when it cannot be compiled."""
    if raw.unbalanced:
        return None
    column = raw.payload_column
    failed = raw.legacy_tail
    trailing = trailing_index(raw.payload)
    if trailing is not None:
        reporter.report(
            "NCD120",
            raw.number,
            column + trailing.start() + 1,
            f"legacy index/sequence written after the concept: `{trailing.group(0).strip()}`; the current form "
            f"is `{current_tail_form(trailing.group(0))}`",
            end_column=column + trailing.end(),
            help=f"write `{current_tail_form(trailing.group(0))}` (both optional: the compiler computes them)",
        )
        failed = True
    payload = raw.payload[: trailing.start()].rstrip() if trailing is not None else raw.payload
    findings = screen(payload, raw.marker)
    for finding in findings:
        reporter.report(
            finding.code,
            raw.number,
            column + finding.start,
            finding.message,
            end_column=column + finding.end,
            help=finding.help,
        )
    if findings:
        return None
    if failed:
        # The line is not compiled (legacy tail), but an accepted alias in it is still named (FIDELITY E4: MANIFEST
        # `legacy_translation_v1.ncd` line 5 reports NCD917 and NCD120).
        if "<$={" in payload and payload:
            probe = PayloadParser(raw.number, column)
            probe.parse(payload, raw.marker)
            for problem in probe.problems:
                if problem.code == "NCD917":
                    reporter.report(
                        problem.code,
                        raw.number,
                        column + problem.start,
                        problem.message,
                        end_column=column + problem.end,
                        help=problem.help,
                    )
        return None
    if not payload:
        reporter.report(
            "NCD111",
            raw.number,
            column,
            f"syntax error: `{raw.marker.value}` is not followed by a concept",
            help="write the concept after the marker, e.g. `<- {x}`",
        )
        return None
    parser = PayloadParser(raw.number, column)
    node = parser.parse(payload, raw.marker)
    for problem in parser.problems:
        reporter.report(
            problem.code,
            raw.number,
            column + problem.start,
            problem.message,
            end_column=column + problem.end,
            help=problem.help,
        )
    return node
