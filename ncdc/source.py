"""Reading a plan and the line pre-pass (LANGUAGE.md §1): decoding, line kinds, depth, the main/tail split,
bracket recovery and the attachment of annotation and comment lines.

The pre-pass does all indentation work; lark later parses one payload at a time (ncdc/parse.py).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ncdc.diagnostics import Diagnostic
from ncdc.ir import Annotation, Comment, CommentKind, Marker, Span
from ncdc.legacy_forms import current_tail_form
from ncdc.tails import LEGACY_INDEX_SEGMENT, Segment, scan_tail

# Line kinds tested in this order (LANGUAGE.md §1.2). Markers first, longest-first within equal starts.
_MARKERS: tuple[tuple[str, Marker], ...] = (
    (":<:", Marker.ROOT),
    (":>:", Marker.INPUT),
    ("<=", Marker.FUNCTION),
    ("<-", Marker.VALUE),
    ("<*", Marker.CONTEXT),
)
_COMMENTS: tuple[tuple[str, CommentKind], ...] = (
    ("/:", CommentKind.DESCRIPTION),
    ("?:", CommentKind.QUESTION),
    ("...:", CommentKind.SOURCE),
    ("||", CommentKind.BLOCK),
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_SUBJECT_START = re.compile(r"^:[A-Za-z_][A-Za-z0-9_ -]*:")
_CLOSE = {")": "(", "]": "[", "}": "{"}


class Reporter:
    """Collects diagnostics for one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    def report(
        self,
        code: str,
        line: int,
        column: int,
        message: str,
        *,
        end_line: int | None = None,
        end_column: int | None = None,
        help: str | None = None,
        related: tuple = (),
    ) -> None:
        self.diagnostics.append(
            Diagnostic(
                self.path,
                line,
                column,
                end_line if end_line is not None else line,
                end_column if end_column is not None else column + 1,
                code,
                message,
                help,
                related,
            )
        )

    def at(self, code: str, span: Span, message: str, **kwargs: object) -> None:
        self.report(code, span.line, span.column, message, end_line=span.end_line, end_column=span.end_column, **kwargs)  # type: ignore[arg-type]


@dataclass
class RawLine:
    """A concept line as the pre-pass sees it (mutable while the pre-pass runs)."""

    number: int
    end_line: int
    text: str
    indent: int  # leading whitespace characters
    width: int  # leading columns, a TAB counted as 4 (compared when attaching annotations)
    depth: int
    marker: Marker
    payload: str
    payload_column: int
    unbalanced: bool = False
    legacy_tail: bool = False
    annotations: list[Annotation] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    tail_description: str | None = None

    @property
    def span(self) -> Span:
        return Span(self.number, self.indent + 1, self.end_line, len(self.text) + 1 if self.end_line == self.number else 1)

    @property
    def payload_span(self) -> Span:
        return Span(self.number, self.payload_column, self.number, self.payload_column + len(self.payload))


@dataclass
class PrePass:
    source_lines: list[str]
    lines: list[RawLine]
    header_annotations: list[Annotation]


def decode(data: bytes, reporter: Reporter) -> str:
    """UTF-8 with an optional BOM; undecodable bytes are NCD105 and replaced so checking goes on."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        reporter.report(
            "NCD105",
            line,
            column,
            f"file is not valid UTF-8: byte 0x{data[error.start]:02x} cannot be decoded",
            help="save the file as UTF-8",
        )
        return data.decode("utf-8", errors="replace")


def split_lines(text: str) -> list[str]:
    """Accept ``\\n`` and ``\\r\\n`` endings; a final newline does not start another line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def leading_columns(line: str) -> tuple[int, int]:
    """(number of leading whitespace characters, their width with a TAB counted as 4 columns)."""
    count = 0
    width = 0
    for c in line:
        if c == " ":
            width += 1
        elif c == "\t":
            width += 4
        else:
            break
        count += 1
    return count, width


def marker_of(stripped: str) -> Marker | None:
    for prefix, marker in _MARKERS:
        if stripped.startswith(prefix):
            return marker
    return None


def split_main(text: str, start: int) -> tuple[int, int, int | None]:
    """Scan a concept line from ``start`` (just after the marker).

    Returns (end of the main part, bracket depth at that point, offset of an unmatched closing bracket).
    The main part ends at the first top-level ``|`` or whitespace-preceded ``/:``, or at an inline comment
    (``inline_comment_at``); angle brackets are not counted for the balance (LANGUAGE.md §1.6)."""
    depth = 0
    angle = 0  # only to keep `#`/`//` inside `<...>` concept brackets from starting a comment (FIDELITY E23)
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            if depth == 0:
                return n, 0, i
            depth -= 1
        elif c == "<" and (i == 0 or text[i - 1] != "%"):
            angle += 1
        elif c == ">" and angle:  # inside `<...>`, `%>` ends an instance marker `<$(X)%>`
            angle -= 1
        elif depth == 0:
            if c == "|":
                return i, 0, None
            if c == "/" and i + 1 < n and text[i + 1] == ":" and i > start and text[i - 1] in " \t":
                return i, 0, None
            if angle == 0 and i > start and inline_comment_at(text, i):
                return i, 0, None
        i += 1
    return n, depth, None


def inline_comment_at(text: str, i: int) -> bool:
    """Whether an opaque inline comment (`# ...` or `// ...`) starts at ``text[i]`` (FIDELITY §3.13, E23).

    It must be preceded by a space or tab and followed by a space or the end of the line, so that `&[#]`,
    `%^(<$*#>)`, `http://h/x` and `see #4` stay data. The caller checks it is outside quotes and brackets."""
    if i == 0 or i >= len(text) or text[i - 1] not in " \t":
        return False
    if text[i] == "#":
        after = i + 1
    elif text.startswith("//", i):
        after = i + 2
    else:
        return False
    return after >= len(text) or text[after] in " \t"


def _bracket_delta(text: str, depth: int) -> int:
    for c in text:
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
    return depth


def prepass(text: str, reporter: Reporter) -> PrePass:
    source_lines = split_lines(text)
    lines: list[RawLine] = []
    header_annotations: list[Annotation] = []
    base_depth: int | None = None
    previous_annotation_owner: RawLine | None = None  # owner of the annotation line just above, if any
    # Concept lines that can still own an annotation: strictly increasing widths, nearest last. A line hides
    # every earlier line at least as wide, so owner look-ups cost the depth, not the file length.
    owners: list[RawLine] = []
    previous_was_annotation = False
    number = 0
    total = len(source_lines)
    while number < total:
        raw = source_lines[number]
        number += 1
        count, width = leading_columns(raw)
        stripped = raw[count:]
        if not stripped.strip():
            previous_was_annotation = False
            continue
        marker = marker_of(stripped)
        marker_length: int | None = None
        if marker is None and not lines and count == 0 and _unmarked_root(stripped, source_lines, number):
            # FIDELITY §6.1: the documentation's bare first line is the root written without a marker.
            marker, marker_length = Marker.ROOT, 0
            reporter.report(
                "NCD920",
                number,
                1,
                "root written without a marker; it is treated as `:<:`",
                end_column=len(raw) + 1,
                help=f"write the root as `:<:{stripped.split('|')[0].strip()}`",
            )
        if marker is not None:
            previous_was_annotation = False
            line = _concept_line(raw, number, count, width, marker, source_lines, reporter, marker_length)
            if base_depth is None:
                if width != 0:
                    reporter.report(
                        "NCD104",
                        number,
                        count + 1,
                        "the first concept line does not start in column 1",
                        help="outdent the plan so that its root starts in column 1",
                    )
                base_depth = width // 4
            depth = max(0, width // 4 - base_depth)
            if lines and depth > lines[-1].depth + 1:
                reporter.report(
                    "NCD103",
                    number,
                    count + 1,
                    f"concept line is {depth - lines[-1].depth} levels deeper than the previous concept line "
                    f"(line {lines[-1].number})",
                    help="indent it one level (4 spaces) below its intended parent",
                )
                depth = lines[-1].depth + 1
            line.depth = depth
            lines.append(line)
            while owners and owners[-1].width >= line.width:
                owners.pop()
            owners.append(line)
            number = line.end_line
            continue
        column = count + 1
        owner = lines[-1] if lines else None
        comment_kind = next((kind for prefix, kind in _COMMENTS if stripped.startswith(prefix)), None)
        if comment_kind is None and stripped.startswith("#"):
            comment_kind = CommentKind.HASH
        if comment_kind is not None:
            previous_was_annotation = False
            if owner is not None:
                body = stripped[len(comment_kind.value) :].strip()
                owner.comments.append(Comment(comment_kind, body, Span(number, column, number, len(raw) + 1)))
            continue
        if stripped.startswith("|"):
            annotation_owner = _annotation_owner(owners, width)
            is_continuation = _annotation_line(
                raw,
                number,
                count,
                annotation_owner,
                previous_annotation_owner if previous_was_annotation else None,
                header_annotations,
                lines,
                reporter,
            )
            if is_continuation is None:  # a banner: free text only
                previous_was_annotation = False
                if owner is not None:
                    owner.comments.append(Comment(CommentKind.BANNER, stripped[1:].strip(), Span(number, column, number, len(raw) + 1)))
            else:
                previous_was_annotation = True
                previous_annotation_owner = annotation_owner
            continue
        previous_was_annotation = False
        if stripped.startswith("<^"):
            reporter.report(
                "NCD113",
                number,
                column,
                "draft-format line `<^` is not .ncd syntax",
                end_column=len(raw) + 1,
                help="formalize the line as a concept line (`<- {x}`, `<- [x]`, `<- <x>`)",
            )
            continue
        reporter.report(
            "NCD110",
            number,
            column,
            "informal line: not a concept line, a comment or an annotation",
            end_column=len(raw) + 1,
            help="give it a marker (`<- {...}`) or make it a comment (`/: ...`)",
        )
    return PrePass(source_lines, lines, header_annotations)


_UNMARKED_ROOT_START = ("{", "[", "(", "<")
_NOT_A_ROOT = ("<=", "<-", "<*", "<^")


def _unmarked_root(stripped: str, source_lines: list[str], number: int) -> bool:
    """Whether line ``number`` (1-based; at column 1, before any concept line) is a root written without a
    marker: it starts like a concept (`{`, `[`, `(`, `<` other than a marker, or `:Name:`) and the next concept
    line is a `<=` line one level deeper (FIDELITY §6.1, E24). Comments and annotations may come in between."""
    starts_like_concept = (stripped.startswith(_UNMARKED_ROOT_START) and not stripped.startswith(_NOT_A_ROOT)) or (
        _SUBJECT_START.match(stripped) is not None
    )
    if not starts_like_concept:
        return False
    for following in source_lines[number:]:
        count, width = leading_columns(following)
        rest = following[count:]
        if not rest.strip() or rest.startswith(("|", "#", "/:", "?:", "...:", "||", "//")):
            continue
        return marker_of(rest) is Marker.FUNCTION and width == 4
    return False


def _concept_line(
    raw: str,
    number: int,
    count: int,
    width: int,
    marker: Marker,
    source_lines: list[str],
    reporter: Reporter,
    marker_length: int | None = None,
) -> RawLine:
    tab = raw.find("\t", 0, count)
    if tab >= 0:
        reporter.report(
            "NCD101",
            number,
            tab + 1,
            "TAB in the indentation of a concept line",
            help="indent with four spaces per level",
        )
    elif width % 4:
        reporter.report(
            "NCD102",
            number,
            1,
            f"concept-line indentation of {width} spaces is not a multiple of 4",
            end_column=count + 1,
            help=f"indent with {width // 4 * 4} or {width // 4 * 4 + 4} spaces",
        )
    start = count + (len(marker.value) if marker_length is None else marker_length)
    payload_start = start
    while payload_start < len(raw) and raw[payload_start] in " \t":
        payload_start += 1
    main_end, depth, stray = split_main(raw, payload_start)
    payload = raw[payload_start:main_end].rstrip()
    line = RawLine(number, number, raw, count, width, 0, marker, payload, payload_start + 1)
    if stray is not None:
        line.unbalanced = True
        reporter.report(
            "NCD112",
            number,
            stray + 1,
            f"unbalanced brackets: `{raw[stray]}` closes a bracket that was never opened",
            help="concept lines are single lines whose brackets balance",
        )
        return line
    if depth > 0:
        # Recovery (LANGUAGE.md §1.6): join following lines until the brackets balance or a marker line starts.
        line.unbalanced = True
        end = number
        while end < len(source_lines) and depth > 0:
            following = source_lines[end]
            if marker_of(following.lstrip(" \t")) is not None:
                break
            depth = _bracket_delta(following, depth)
            end += 1
        line.end_line = end
        last = source_lines[end - 1]
        reporter.report(
            "NCD112",
            number,
            count + 1,
            "unbalanced brackets: the concept line's brackets never close"
            + (f" (lines {number}-{end} were read as one line and not compiled)" if end > number else ""),
            end_line=end,
            end_column=len(last) + 1,
            help="write the concept on one line, e.g. `<- [options]`, declared by an operation or as ground data",
        )
        return line
    tail_text = raw[main_end:]
    if inline_comment_at(raw, main_end):
        # An inline `#`/`//` comment swallows the rest of the line, a tail included (FIDELITY §3.13).
        kind = CommentKind.HASH
        body = raw[main_end:].lstrip("#/").strip()
        line.comments.append(Comment(kind, body, Span(number, main_end + 1, number, len(raw) + 1)))
        tail_text = ""
    if tail_text.strip():
        tail = scan_tail(tail_text)
        for segment in tail.segments:
            if not segment.is_annotation:
                if LEGACY_INDEX_SEGMENT.match(segment.value):
                    line.legacy_tail = True
                    reporter.report(
                        "NCD120",
                        number,
                        main_end + segment.key_start + 1,
                        f"legacy index/sequence tail `| {segment.value}`; the current form is "
                        f"`{current_tail_form(segment.value)}`",
                        end_column=main_end + segment.end + 1,
                        help=f"write `{current_tail_form(segment.value)}` (both optional: the compiler computes them)",
                    )
                continue
            line.annotations.append(_annotation(segment, number, main_end, True))
        line.tail_description = tail.description
    return line


def _annotation(segment: Segment, number: int, offset: int, in_tail: bool) -> Annotation:
    return Annotation(
        segment.sigil,
        segment.key,
        segment.value,
        number,
        in_tail,
        Span(number, offset + segment.key_start + 1, number, offset + segment.end + 1),
        Span(number, offset + segment.value_start + 1, number, offset + segment.end + 1),
    )


def _annotation_owner(owners: list[RawLine], width: int) -> RawLine | None:
    """The nearest preceding concept line indented strictly less than the annotation (LANGUAGE.md §1.5)."""
    for line in reversed(owners):
        if line.width < width:
            return line
    return None


def _annotation_line(
    raw: str,
    number: int,
    count: int,
    owner: RawLine | None,
    previous_owner: RawLine | None,
    header_annotations: list[Annotation],
    lines: list[RawLine],
    reporter: Reporter,
) -> bool | None:
    """Handle one ``|`` line. Returns None for a banner, False for an annotation line, True for a continuation."""
    tail = scan_tail(raw[count:])
    annotations = [_annotation(s, number, count, False) for s in tail.segments if s.is_annotation]
    if not annotations:
        after_pipe = raw[count + 1 :]
        if (
            previous_owner is not None
            and lines
            and (owner or lines[-1]) is previous_owner
            and after_pipe.startswith("     ")
            and previous_owner.annotations
            and not previous_owner.annotations[-1].in_tail
        ):
            previous = previous_owner.annotations[-1]
            addition = after_pipe.strip()
            previous_owner.annotations[-1] = dataclasses.replace(
                previous,
                value=f"{previous.value} {addition}".strip(),
                span=Span(previous.span.line, previous.span.column, number, len(raw) + 1),
                value_span=Span(previous.value_span.line, previous.value_span.column, number, len(raw) + 1),
            )
            reporter.report(
                "NCD910",
                number,
                count + 1,
                f"annotation continuation line joined to `{previous.sigil}{{{previous.key}}}` of line {previous.line}",
                end_column=len(raw) + 1,
                help="keep annotation values on one line",
            )
            return True
        return None
    if not lines:
        header_annotations.extend(annotations)
        return False
    if owner is None:
        owner = lines[-1]
        reporter.report(
            "NCD911",
            number,
            count + 1,
            f"annotation line is not indented deeper than any concept line; attached to line {owner.number}",
            end_column=len(raw) + 1,
            help="indent the annotation deeper than the concept line it belongs to",
        )
    owner.annotations.extend(annotations)
    if tail.description is not None:
        owner.comments.append(Comment(CommentKind.DESCRIPTION, tail.description, Span(number, count + 1, number, len(raw) + 1)))
    return False
