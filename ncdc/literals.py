"""Literal names (LANGUAGE.md §3.1) and perceptual signs / face values (§4.4)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ncdc.ir import ConceptRef

# {key: "value"}: key without { } : "; any spacing after the colon; a JSON string.
_LITERAL_NAME = re.compile(r'^[^{}:"]+:\s*("(?:[^"\\]|\\.)*")$')
# %{norm}id(signifier) or %(signifier); the signifier's parentheses balance (checked by the caller's grammar).
SIGN = re.compile(r"^%(?:\{(?P<norm>[A-Za-z][A-Za-z0-9_ ]*)\}(?P<id>[A-Za-z0-9_]+)?)?\((?P<signifier>.*)\)$", re.S)

KNOWN_SIGN_NORMS = frozenset(
    {
        "file_location",
        "prompt_location",
        "script_location",
        "save_path",
        "memorized_parameter",
        "truth_value",
        "literal",
        "dummy",
    }
)


def literal_value(concept: "ConceptRef") -> str | None:
    """The JSON-decoded string of a literal name ``{key: "value"}``, or None."""
    match = _LITERAL_NAME.match(concept.inner)
    if match is None:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


def parse_json(text: str) -> tuple[bool, object]:
    """(True, value) when ``text`` is a JSON value, else (False, None)."""
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):  # nested too deep to parse is no usable JSON value either
        return False, None
