"""What shape a model's answer must have, and a strict parser for it (RUNTIME §10.2).

Shapes:

* ``boolean`` — JSON ``true``/``false``, the words true/yes/false/no, or a truth marker (§2.6);
* ``list`` — a JSON array;
* ``json`` — any JSON value (plain text is an error);
* ``normal`` — any JSON value, plain text kept as a string (``o_Normal`` and object concepts ``{}``);
* ``text`` — the answer text itself.

Parsing never guesses: an answer that is not exactly one of the accepted forms raises ``AnswerParseError``, which
the LLM executor turns into a repair request.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from runtime.reference import truth_value

SHAPES = ("boolean", "list", "json", "normal", "text")

_BOOLEAN_OUT = frozenset({"o_Boolean", "o_Bool", "o_Truth"})
_LIST_OUT = frozenset({"o_ListLiteral", "o_List"})
_JSON_OUT = frozenset({"o_JSON", "o_Json", "o_Struct", "o_Dict"})
_NORMAL_OUT = frozenset({"o_Normal"})
_WORDS = {"true": True, "yes": True, "false": False, "no": False}
# a fenced block anywhere in the answer; models like to wrap JSON in ```json … ``` with prose around it
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n(?P<body>.*?)```", re.DOTALL)


class AnswerParseError(ValueError):
    """The answer does not have the expected shape; ``message`` says why (it is shown to the model on repair)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def output_part(paradigm: str | None) -> str | None:
    return next((p for p in (paradigm or "").split("-") if p.startswith("o_")), None)


def expected_shape(inf: dict[str, Any], plan: Any) -> str:
    """The answer shape of an imperative or judgement: paradigm output part, else the kind of the cti."""
    wi = inf["working_interpretation"]
    if inf["inference_sequence"].startswith("judgement"):
        condition = (wi.get("assertion_condition") or {}).get("condition", True)
        # `<ALL unsure>` compares answers with a word: a boolean could never match it, so the word is the answer
        return "boolean" if isinstance(condition, bool) else "text"
    out = output_part(wi.get("paradigm"))
    if out is not None:
        if out in _BOOLEAN_OUT:
            return "boolean"
        if out in _LIST_OUT:
            return "list"
        if out in _JSON_OUT:
            return "json"
        if out in _NORMAL_OUT:
            return "normal"
        return "text"
    kind = plan.concepts[inf["concept_to_infer"]]["type"]
    return {"<>": "boolean", "[]": "list", "{}": "normal"}.get(kind, "text")


def describe(shape: str, json_mode: bool) -> str:
    """The expected shape in words, for prompts and repair requests."""
    if json_mode:
        inner = {"boolean": "true or false", "list": "a JSON array", "text": "a string"}.get(shape, "any JSON value")
        return f'Answer with one JSON object of the form {{"thinking": "<optional reasoning>", "answer": <{inner}>}}.'
    return {
        "boolean": "Answer with exactly one word, true or false, and nothing else.",
        "list": "Answer with a JSON array and nothing else.",
        "json": "Answer with a JSON value (object, array, string, number, true, false or null) and nothing else.",
        "normal": "Answer with a JSON value, or with plain text when the answer is prose.",
        "text": "Answer with the answer text only.",
    }[shape]


def parse_boolean(text: str) -> bool:
    """Strict booleans: JSON true/false, true/yes/false/no (case, surrounding whitespace and ONE final period
    ignored), truth markers. "incorrect", "yes, but …" or "1" do not parse."""
    s = text.strip()
    marker = truth_value(s)
    if marker is not None:
        return marker
    if s.endswith("."):
        s = s[:-1].rstrip()
    value = _WORDS.get(s.lower())
    if value is None:
        raise AnswerParseError(f"expected true or false, got {_snippet(text)}")
    return value


def _load_json(text: str) -> Any:
    """The answer as JSON: the whole text, else the first fenced block in it."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError:
        pass
    fence = _FENCE.search(text)
    if fence is not None:
        try:
            return json.loads(fence["body"], parse_constant=_no_constant, parse_float=_finite)
        except ValueError as exc:
            raise AnswerParseError(f"the fenced block is not valid JSON ({exc})") from None
    raise AnswerParseError(f"the answer is not valid JSON: {_snippet(text)}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # 1e999 would become inf, which no Reference can hold
        raise ValueError(f"{literal} is out of range")
    return value


def _from_value(value: Any, shape: str) -> Any:
    """Check an already decoded JSON value (the ``answer`` of JSON mode) against the shape."""
    if shape == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return parse_boolean(value)
        raise AnswerParseError(f"expected true or false, got {_snippet(json.dumps(value))}")
    if shape == "list":
        if isinstance(value, list):
            return value
        raise AnswerParseError(f"expected a JSON array, got {_snippet(json.dumps(value))}")
    if shape == "text":
        # a non-string answer to a text step is kept as its JSON text, so the value is always a string
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return value


def parse_answer(text: str | None, shape: str, json_mode: bool) -> Any:
    """The answer value of ``text`` in ``shape``; raises ``AnswerParseError``."""
    if shape not in SHAPES:
        raise ValueError(f"unknown answer shape {shape!r}")
    if text is None or not text.strip():
        raise AnswerParseError("the answer is empty")
    if json_mode:
        obj = _load_json(text.strip())
        if not isinstance(obj, dict) or "answer" not in obj:
            raise AnswerParseError('expected a JSON object with the key "answer"')
        return _from_value(obj["answer"], shape)
    if shape == "boolean":
        return parse_boolean(text)
    if shape == "text":
        return text.strip()
    if shape == "normal":
        try:
            return _load_json(text.strip())
        except AnswerParseError:
            return text.strip()
    return _from_value(_load_json(text.strip()), shape)


def _snippet(text: str, limit: int = 200) -> str:
    text = text if len(text) <= limit else text[:limit] + "…"
    return repr(text)
