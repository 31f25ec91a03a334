"""The tail grammar (LANGUAGE.md §7.1): ``| ?{key}: value | %{key}: value | free text /: description``.

A tail is scanned by hand rather than with lark: it is a flat list of segments split at ``|`` and at a
whitespace-preceded ``/:``, and values are free text (they may hold brackets that never balance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SYN = re.compile(r"\?\{([A-Za-z][A-Za-z_ ]*)\}:")
_REF = re.compile(r"%\{([A-Za-z][A-Za-z0-9_ ]*|literal<\$%\s*[^>{}]*>)\}:")
LEGACY_INDEX_SEGMENT = re.compile(r"^\s*\d+(\.\d+)*\.\s+[a-z_]+")


@dataclass(frozen=True, slots=True)
class Segment:
    """One ``|`` segment of a tail. ``sigil`` is ``?``/``%`` for annotations and ``""`` for free text.

    Offsets are 0-based positions in the scanned text (the caller turns them into columns)."""

    sigil: str
    key: str
    value: str
    start: int  # offset of the "|"
    key_start: int  # offset of the sigil (or of the free text)
    value_start: int
    end: int  # offset just past the segment's text (trailing whitespace excluded)

    @property
    def is_annotation(self) -> bool:
        return bool(self.sigil)


@dataclass(frozen=True, slots=True)
class Tail:
    segments: tuple[Segment, ...]
    description: str | None
    description_start: int | None


def _segment_end(text: str, start: int) -> int:
    """End of a value: the next ``|`` or the next whitespace-preceded ``/:``."""
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "|":
            return i
        if c == "/" and i + 1 < n and text[i + 1] == ":" and i > start and text[i - 1] in " \t":
            return i
        i += 1
    return n


# Values that are data, where `#` and `//` are never comment marks (FIDELITY E23).
_DATA_KEYS = frozenset({"literal_value", "natural_language", "ref_element"})


def _keeps_comment_marks(key: str) -> bool:
    return key in _DATA_KEYS or key.startswith("literal<")


def _inline_comment(text: str, start: int, end: int) -> int | None:
    """Offset of an inline comment in ``text[start:end]``: `#` or `//` preceded by a space or tab and followed
    by a space or the end of the line, outside quotes and brackets; else None."""
    depth = 0
    quote = False
    i = start
    while i < end:
        c = text[i]
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            quote = not quote
        elif not quote:
            if c in "([{<":
                depth += 1
            elif c in ")]}>":
                depth = max(0, depth - 1)
            elif depth == 0 and i > start and text[i - 1] in " \t" and (c == "#" or text.startswith("//", i)):
                after = i + (1 if c == "#" else 2)
                if after >= len(text) or text[after] in " \t":
                    return i
        i += 1
    return None


def scan_tail(text: str) -> Tail:
    """Split ``text`` (starting at a ``|`` or ``/:``, leading whitespace allowed) into segments."""
    segments: list[Segment] = []
    description: str | None = None
    description_start: int | None = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if text.startswith("/:", i):
            description = text[i + 2 :].strip()
            description_start = i
            break
        if c != "|":  # stray text between segments (cannot happen for a tail split at "|"); keep it as free text
            end = _segment_end(text, i)
            segments.append(Segment("", "", text[i:end].strip(), i, i, i, i + len(text[i:end].rstrip())))
            i = end
            continue
        end = _segment_end(text, i + 1)
        body_start = i + 1
        while body_start < end and text[body_start] in " \t":
            body_start += 1
        body = text[body_start:end]
        stripped_end = body_start + len(body.rstrip())
        match = _SYN.match(body) or _REF.match(body)
        if match:
            value_start = body_start + match.end()
            while value_start < stripped_end and text[value_start] in " \t":
                value_start += 1
            comment = None if _keeps_comment_marks(match.group(1)) else _inline_comment(text, value_start, end)
            if comment is not None:
                # `# ...` / `// ...` ends the value and swallows the rest of the line (FIDELITY §3.13, E23).
                stripped_end = value_start + len(text[value_start:comment].rstrip())
                segments.append(
                    Segment(body[0], match.group(1), text[value_start:stripped_end], i, body_start, value_start, stripped_end)
                )
                break
            segments.append(
                Segment(
                    body[0],
                    match.group(1),
                    text[value_start:stripped_end],
                    i,
                    body_start,
                    value_start,
                    stripped_end,
                )
            )
        else:
            segments.append(Segment("", "", body.strip(), i, body_start, body_start, stripped_end))
        i = end
    return Tail(tuple(segments), description, description_start)
