"""The legacy and unimplemented-construct screen (LANGUAGE.md §8), run on a payload before the grammar.

A payload that matches is reported with the code of each family found (at most one finding per family and
line) and is not parsed further, so one legacy form never also produces a confusing NCD111.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ncdc.ir import Marker


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    start: int  # offset in the payload
    end: int
    message: str
    help: str | None = None


_UNIMPLEMENTED = re.compile(
    r"^(\$::\.?|@::|:_:|@(by|before|onlyIf|ifOnlyIf|with|while|until)\b|\*(some|count)\b|&(set|pair)\b)"
)
_CALL_ASSIGN = re.compile(r"^\$[.=%+\-](?=[(\[{])")
_LEGACY_GROUP = re.compile(r"^&(in|across)\b")
_LEGACY_TIMING = re.compile(r"^@(if!?|after)\b")
_LEGACY_LOOP = re.compile(r"^\*every\b")
_ANGLE_BODY = re.compile(r"^(::<\{|::\{ALL|:%\((True|False)\):<|::\{%\([^)]*\)\}<)")
# A brace slot holding a `%(...)` norm after any agent, or the `:>:{x}?()` query form, is legacy; any other
# `{norm}` is an informational norm name (FIDELITY §3.4, E24).
_NORM_IN_BRACES = re.compile(r"^(::|:>:|:[A-Za-z_][A-Za-z0-9_ -]*:|:%\([^)]*\):)\{%\(|^:>:\{[^{}]*\}\?")
# A functional type symbol used as the operation (FIDELITY §3.7).
_TYPE_SYMBOL_OPERATION = re.compile(r"^<\{(?P<judgement>.*)\}>$|^\(\{(?P<imperative>.*)\}\)$")
# `:agent:{text}` with no parenthesised body (FIDELITY §3.16): kept as NCD111 with the rewrite.
_BRACE_BODY = re.compile(r"^(?P<agent>::|:[A-Za-z_][A-Za-z0-9_ -]*:)\{(?P<text>[^{}]*)\}$")
_INPUT_NORM_AGENT = re.compile(r"^:%>\(")
_LEGACY_TAGS = (
    (re.compile(r"<\$\([^()]*\)%_>"), "legacy instance marker `<$(X)%_>`", "write `<$(X)%>`"),
    (re.compile(r"<\$\{_\}=>"), "legacy identification tag `<${_}=>`", "write `<$({X})=>` naming what identifies it"),
    # `<$={N}>` is an accepted alias of `<$({N})=>` (FIDELITY §6.4, E4); every other `<$=...>` is legacy.
    (re.compile(r"<\$=(?!\{\d+\}>)[^>]*>"), "legacy identification tag `<$=...>`", "write `<$({X})=>` naming what identifies it"),
    (re.compile(r"<\$%[^>]*>"), "legacy perception tag `<$%...>`", "declare perception with `%{file_location}` etc."),
    (re.compile(r"<:\{[A-Za-z_][^}]*\}>"), "named binding", "bind positionally with `<:{N}>`"),
    (re.compile(r"\{\d+\+\}"), "rest placeholder `{N+}`", "name each input with `{N}` and bind it with `<:{N}>`"),
)
_SUFFIX_TAGS = (
    (re.compile(r"<\*-?\d+>"), "legacy carry tag `<*N>`", "write the loop version directly: `{x}*1`, `{x}*-1`"),
    (re.compile(r"<--"), "legacy carry tag `<--...>`", "write the loop version directly: `{x}*-1`"),
)
_FUNCTIONAL_QUERY = re.compile(r"\}\?(?=<\$\(|\)%)")
_ACTION_VALUE = re.compile(r"^(::|:%|:[A-Za-z_][A-Za-z0-9_ -]*:)[({<]")


def core_end(payload: str) -> int:
    """Offset just past the bracketed core of a value/root payload (after a root's opening ``(``)."""
    i = 1 if payload.startswith("(") else 0
    if i >= len(payload):
        return len(payload)
    opener = payload[i]
    if opener == ":":
        close = payload.find(":", i + 1)
        return len(payload) if close < 0 else close + 1
    pairs = {"{": "}", "[": "]", "<": ">"}
    if opener not in pairs:
        return i
    counted = "{}[]<>" if opener == "<" else "{}[]"
    depth = 0
    for j in range(i, len(payload)):
        c = payload[j]
        if c not in counted:
            continue
        if c in "{[<":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(payload)


def _query_in_suffixes(payload: str, start: int) -> int | None:
    """Offset of a ``?`` that follows the core or a suffix (outside angle groups), else None."""
    depth = 0
    for j in range(start, len(payload)):
        c = payload[j]
        if c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "?" and depth == 0:
            return j
    return None


def screen(payload: str, marker: Marker) -> list[Finding]:
    """All legacy/unimplemented findings of one payload (empty when the payload is current syntax)."""
    findings: list[Finding] = []

    def add(code: str, match: re.Match[str] | None, message: str, help: str | None = None) -> bool:
        if match is None:
            return False
        findings.append(Finding(code, match.start(), max(match.end(), match.start() + 1), message, help))
        return True

    functional = marker is Marker.FUNCTION
    if functional:
        add(
            "NCD130",
            _UNIMPLEMENTED.match(payload),
            f"`{(_UNIMPLEMENTED.match(payload) or [''])[0]}` is not implemented: no runtime sequence executes it",
            "express the step with implemented operators (a gate `@:'`, a loop `*.` plus a judgement, ...)",
        )
        add(
            "NCD121",
            _CALL_ASSIGN.match(payload),
            "legacy call-form assignment; the current form is `$. %>({x})` "
            "(several sources: `$. %>({x}) %<[{a}, {b}]`; append: `$+ %>({dest}) %<({item}) %:({axis})`)",
            "write the operator followed by modifiers, e.g. `$. %>({number})`",
        )
        add(
            "NCD122",
            _LEGACY_GROUP.match(payload),
            "legacy grouping operator; the current forms are `&[{}] %>[...]` (group in) and `&[#] %>[...]` (group across)",
            "e.g. `&[#] %>[{a}, {b}]`",
        )
        match = _LEGACY_TIMING.match(payload)
        if match:
            current = {"if": "@:'(<c>)", "if!": "@:!(<c>)", "after": "@.({x})"}[match.group(1)]
            add("NCD123", match, f"legacy timing operator `@{match.group(1)}`; the current form is `{current}`")
        add(
            "NCD124",
            _LEGACY_LOOP.match(payload),
            "legacy loop operator `*every`; the current form is `*. %>({base}) %<({result}) %:({x}) %@(N)` "
            "plus `<*` element declarations",
            "e.g. `*. %>([drafts]) %<({checked draft}) %:({draft}) %@(1)`",
        )
        if not add(
            "NCD125",
            _ANGLE_BODY.match(payload),
            "legacy angle-bodied operation; the current form is `::(text)<ALL True>` with `%{norm_input}`",
            "e.g. `::(check that {1} is complete)<ALL True>`",
        ):
            add(
                "NCD126",
                _NORM_IN_BRACES.match(payload),
                "legacy norm in braces after the agent; the current form is `::(...)` / `:>:(...)` plus `%{norm_input}`",
                "e.g. `::(translate {1})` with `| %{norm_input}: ...`",
            )
        symbol = _TYPE_SYMBOL_OPERATION.match(payload)
        if symbol:
            if symbol.group("judgement") is not None:
                current = f"::({symbol.group('judgement').strip()})<ALL True>"
                what = "a judgement; choose the truth assertion"
            else:
                current = f"::({symbol.group('imperative').strip()})"
                what = "an imperative"
            findings.append(
                Finding(
                    "NCD129",
                    0,
                    len(payload),
                    f"functional type symbol `{payload}` used as an operation; it defines no operation: write `{current}`",
                    f"write `{current}` ({what})",
                )
            )
        brace_body = _BRACE_BODY.match(payload)
        if brace_body and not findings:
            rewrite = f"{brace_body.group('agent')}({brace_body.group('text').strip()})"
            findings.append(
                Finding(
                    "NCD111",
                    brace_body.end("agent"),
                    len(payload),
                    f"syntax error: `{payload}` has no parenthesised instruction; the braces hold an optional norm",
                    f"write `{rewrite}`",
                )
            )
        if not findings and payload[:1].isalpha():
            findings.append(
                Finding(
                    "NCD113",
                    0,
                    len(payload),
                    "draft-format content: the operation is prose, not an operator or `::(...)`",
                    "formalize it, e.g. `::(" + payload + ")` with its inputs bound by `<:{N}>`",
                )
            )
        add(
            "NCD127",
            _INPUT_NORM_AGENT.match(payload),
            "legacy input-norm agent `:%>(Name):`; the current form is `:%(Name):`",
        )
    else:
        match = _ACTION_VALUE.match(payload)
        if match:
            findings.append(
                Finding(
                    "NCD114",
                    0,
                    len(payload),
                    "an operation is used as a value; values are concepts",
                    "introduce a value concept produced by that operation: `<- {summary}` with `<= ::(...)` below it",
                )
            )
        elif payload and payload[0] not in "{[<:(":
            findings.append(
                Finding(
                    "NCD113",
                    0,
                    len(payload),
                    "draft-format content: the payload names no concept",
                    "formalize it as `{x}`, `[x]` or `<x>`",
                )
            )
    # NCD128 — one finding per line for the whole family.
    found = False
    for pattern, what, fix in _LEGACY_TAGS:
        match = pattern.search(payload)
        if match:
            # The message names the current form of this very tag (MANIFEST: legacy messages name the equivalent).
            add("NCD128", match, f"{what} (`{match.group(0)}`) is legacy syntax; the current form: {fix}", fix)
            found = True
            break
    if not found and not functional and payload[:1] in "{[<:(":
        end = core_end(payload)
        suffixes = payload[end:]
        for pattern, what, fix in _SUFFIX_TAGS:
            match = pattern.search(suffixes)
            if match:
                findings.append(
                    Finding("NCD128", end + match.start(), end + match.end(), f"{what} is legacy syntax; the current form: {fix}", fix)
                )
                found = True
                break
        if not found:
            query = _query_in_suffixes(payload, end)
            if query is not None:
                findings.append(
                    Finding(
                        "NCD128",
                        query,
                        query + 1,
                        f"legacy query suffix `?` after the concept; the current form is `{payload[:query].lstrip('(')}` (no `?`)",
                        "drop the `?`",
                    )
                )
    if not found and functional:
        add(
            "NCD128",
            _FUNCTIONAL_QUERY.search(payload),
            "legacy query suffix `?` after a placeholder; the current form is the placeholder without it (`{N}`)",
            "drop the `?`",
        )
    return findings


def trailing_index(main: str) -> re.Match[str] | None:
    """``:<:({x}) 1. assignment`` — a legacy index written after the payload without a pipe (NCD120)."""
    return _TRAILING_INDEX.search(main)


_TRAILING_INDEX = re.compile(r"\s\d+(\.\d+)*\.\s+[A-Za-z]+(\s*\([^)]*\))?$")
