"""Payload → typed IR: lark (LALR) for the payload grammar, then the second-level parsing of LANGUAGE.md §2.3.

Exact texts are always recovered by slicing the payload with node positions, never by re-joining tokens.
Errors are returned as ``ParseProblem`` records (code, payload offsets, message); the caller places them in
the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ncdc.grammar_files import assertion_parser, payload_parser
from ncdc.ir import (
    Agent,
    AgentKind,
    AngleForm,
    ArgForm,
    Assertion,
    AxisName,
    Binding,
    ClausalComment,
    Clause,
    ConceptKind,
    ConceptRef,
    ElementDeclaration,
    IdentificationMarker,
    InstanceMarker,
    IntegerItem,
    Item,
    JsonValue,
    LoopVersion,
    Marker,
    Modifier,
    Operator,
    Payload,
    Placeholder,
    Protection,
    RootPayload,
    Selector,
    Semantic,
    Sign,
    Span,
    Suffix,
)
from ncdc.literals import SIGN, parse_json


@dataclass(frozen=True, slots=True)
class ParseProblem:
    code: str
    start: int  # payload offsets
    end: int
    message: str
    help: str | None = None


class ParseFailure(Exception):
    """A payload fragment that cannot be compiled; ``problem`` is the diagnostic to report at its place.

    Public because callers outside the payload parser (list-valued annotations) parse items too and must turn
    the failure into a diagnostic rather than let it escape as an internal error.
    """

    def __init__(self, problem: ParseProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


_START_OF = {
    Marker.ROOT: "root_payload",
    Marker.INPUT: "root_payload",
    Marker.VALUE: "value_payload",
    Marker.CONTEXT: "value_payload",
    Marker.FUNCTION: "functional_payload",
}

# Words shown instead of terminal names in NCD111 messages.
_TERMINAL_WORDS = {
    "NAME_CHARS": "name text",
    "PROP_CHARS": "proposition text",
    "BODY_CHARS": "instruction text",
    "BAL_CHARS": "text",
    "SUBJECT_NAME": "a subject name",
    "LOOP_VERSION": "a loop version (`*1`, `*-1`)",
    "MOD_OP": "an operator modifier (`%>`, `%<`, `%:`, `%^`, `%@`, `%+`, `%-`)",
    "ASSIGN_OP": "an assigning operator (`$=`, `$%`, `$.`, `$+`, `$-`)",
    "GROUP_OP": "a grouping operator (`&[{}]`, `&[#]`)",
    "TIMING_OP": "a timing operator (`@:'`, `@:!`, `@.`)",
    "LOOP_OP": "the loop operator `*.`",
    "_WS": "a space",
    "$END": "the end of the concept",
}

_PLACEHOLDER = re.compile(r"\{(\d+)\}(<\$\(((?:[^()]|\([^()]*\))*)\)%>)?")
_BINDING = re.compile(r"^:\{(\d+)\}$")
_INSTANCE = re.compile(r"^\$\((.*)\)%$", re.S)
_IDENTIFICATION = re.compile(r"^\$\((.*)\)=$", re.S)
_ELEMENT = re.compile(r"^\$\((.*)\)\*(-?\d+)?$", re.S)
_LEGACY_ANGLE = re.compile(r"^(:\{|\$\(.*\)%_$|\$=(?!\{\d+\}$)|\$\{_\}=|\$%|\*-?\d+$|--)", re.S)
_IDENTIFICATION_ALIAS = re.compile(r"^\$=\{(\d+)\}$")  # `<$={N}>` ≡ `<$({N})=>` (FIDELITY §6.4)
_INTEGER = re.compile(r"^-?\d+$")
_QUANTIFIERS = {"all": "all", "any": "some", "some": "some", "none": "none", "exists": "exists"}


def _describe(terminal: str) -> str:
    word = _TERMINAL_WORDS.get(terminal)
    if word is not None:
        return word
    try:
        pattern = payload_parser().get_terminal(terminal).pattern
        return f"`{pattern.value}`"
    except KeyError:
        return terminal


def _expected(names: set[str] | frozenset[str]) -> str:
    words = sorted({_describe(name) for name in names})
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


def syntax_problem(error: UnexpectedInput, text: str) -> ParseProblem:
    """An NCD111 record at the failing offset, listing the expected tokens in words."""
    if isinstance(error, UnexpectedToken):
        offset = error.token.start_pos if error.token.start_pos is not None else len(text)
        found = "the end of the concept" if error.token.type == "$END" else f"`{error.token.value}`"
        expected = _expected(error.expected)
    elif isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream
        found = f"`{text[offset]}`" if offset < len(text) else "the end of the concept"
        expected = _expected(error.allowed or set())
    elif isinstance(error, UnexpectedEOF):
        offset = len(text)
        found = "the end of the concept"
        expected = _expected(set(error.expected))
    else:  # pragma: no cover - lark raises only the three above
        offset, found, expected = 0, "input", "valid syntax"
    offset = max(0, min(offset, len(text)))
    return ParseProblem("NCD111", offset, min(offset + 1, max(len(text), offset + 1)), f"syntax error: unexpected {found}; expected {expected}")


class PayloadParser:
    """Parses payloads of one file; ``column`` converts payload offsets to source spans."""

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column  # source column of payload offset 0
        self.problems: list[ParseProblem] = []

    # ------------------------------------------------------------------ helpers

    def span(self, start: int, end: int) -> Span:
        return Span(self.line, self.column + start, self.line, self.column + max(end, start + 1))

    def parse(self, text: str, marker: Marker) -> Payload | None:
        """The IR node of ``text``; None after recording problems in ``self.problems``."""
        try:
            tree = payload_parser().parse(text, start=_START_OF[marker])
        except UnexpectedInput as error:
            self.problems.append(syntax_problem(error, text))
            return None
        try:
            if marker is Marker.FUNCTION:
                return self._functional(tree, text)
            return self._root_or_value(tree, text, marker)
        except ParseFailure as failed:
            self.problems.append(failed.problem)
            return None

    # ------------------------------------------------------------------ concepts

    def _root_or_value(self, tree: Tree, text: str, marker: Marker) -> Payload:
        if tree.data == "value_payload":
            return self._concept(tree, text, 0)
        if tree.data == "root_bare":
            value = tree.children[0]
            return RootPayload(self._concept(value, text, 0), False, (), self.span(0, len(text)))
        value, *outer = tree.children
        suffixes = tuple(self._suffix(s, text, 0) for s in outer)
        return RootPayload(self._concept(value, text, 0), True, suffixes, self.span(0, len(text)))

    def _concept(self, tree: Tree, text: str, base: int) -> ConceptRef:
        """A ``value_payload`` tree parsed from ``text``; ``base`` is ``text``'s offset in the payload."""
        core_tree, *suffix_trees = tree.children
        core = text[core_tree.meta.start_pos : core_tree.meta.end_pos]
        kind = ConceptKind(core_tree.data)
        suffixes = tuple(self._suffix(s, text, base) for s in suffix_trees)
        return ConceptRef(kind, core, suffixes, self.span(base + tree.meta.start_pos, base + tree.meta.end_pos))

    def _suffix(self, tree: Tree, text: str, base: int) -> Suffix:
        start, end = tree.meta.start_pos, tree.meta.end_pos
        raw = text[start:end]
        span = self.span(base + start, base + end)
        if tree.data == "loop_version":
            versions = tuple(int(v) for v in re.findall(r"-?\d+", raw))
            return LoopVersion(raw, versions, span)
        return classify_angle(raw, span, self)

    # ------------------------------------------------------------------ functional concepts

    def _functional(self, tree: Tree, text: str) -> Payload:
        if tree.data == "semantic":
            return self._semantic(tree, text)
        op_token = tree.children[0]
        assert isinstance(op_token, Token)
        if tree.data == "timing_direct":
            argument_start = text.index("(", op_token.end_pos)
            argument = text[argument_start : tree.meta.end_pos]
            modifier = Modifier(
                "%>",
                ArgForm.SINGLE,
                argument,
                self._items(argument[1:-1], argument_start + 1, ArgForm.SINGLE),
                "",
                text[op_token.end_pos : argument_start],
                self.span(argument_start, tree.meta.end_pos),
            )
            return Operator(op_token.value, (modifier,), True, self.span(0, len(text)))
        modifiers: list[Modifier] = []
        previous_end = op_token.end_pos
        for child in tree.children[1:]:
            op, argument_tree = child.children
            form = {"arg_single": ArgForm.SINGLE, "arg_list": ArgForm.LIST, "arg_angle": ArgForm.ANGLE}[argument_tree.data]
            a_start, a_end = argument_tree.meta.start_pos, argument_tree.meta.end_pos
            argument = text[a_start:a_end]
            if form is ArgForm.ANGLE:
                items = self._angle_items(argument, a_start)
            elif op_token.value == "$%" and op.value == "%>":
                items = (self.face_value(argument[1:-1].strip(), a_start + 1),)
            else:
                items = self._items(argument[1:-1], a_start + 1, form, directives=op.value == "%^")
            modifiers.append(
                Modifier(
                    op.value,
                    form,
                    argument,
                    items,
                    text[previous_end : child.meta.start_pos],
                    text[op.end_pos : a_start],
                    self.span(child.meta.start_pos, a_end),
                )
            )
            previous_end = a_end
        return Operator(op_token.value, tuple(modifiers), False, self.span(0, len(text)))

    def _semantic(self, tree: Tree, text: str) -> Semantic:
        agent_tree = tree.children[0]
        norm_tree = next((c for c in tree.children if isinstance(c, Tree) and c.data == "norm"), None)
        assertion_tree = next((c for c in tree.children if isinstance(c, Tree) and c.data == "assertion"), None)
        agent_end = agent_tree.meta.end_pos
        agent_text = text[agent_tree.meta.start_pos : agent_end]
        kind, name = {
            "agent_default": (AgentKind.DEFAULT, None),
            "agent_input": (AgentKind.INPUT, None),
            "agent_norm": (AgentKind.NORM, agent_text[3:-2]),
            "agent_named": (AgentKind.NAMED, agent_text[1:-1]),
        }[agent_tree.data]
        norm = None
        body_open = agent_end
        if norm_tree is not None:
            norm = text[norm_tree.meta.start_pos + 1 : norm_tree.meta.end_pos - 1]
            body_open = norm_tree.meta.end_pos
        body_open = text.index("(", body_open)
        end = assertion_tree.meta.start_pos if assertion_tree is not None else tree.meta.end_pos
        body_close = text.rindex(")", 0, end)
        body = text[body_open + 1 : body_close]
        placeholders = tuple(
            Placeholder(
                int(m.group(1)),
                m.group(3),
                self.span(body_open + 1 + m.start(), body_open + 1 + m.end()),
            )
            for m in _PLACEHOLDER.finditer(body)
        )
        assertion = None
        gap = ""
        if assertion_tree is not None:
            a_start, a_end = assertion_tree.meta.start_pos, assertion_tree.meta.end_pos
            gap = text[body_close + 1 : a_start]
            assertion = self._assertion(text[a_start:a_end], a_start)
        return Semantic(Agent(kind, agent_text, name), norm, body, placeholders, assertion, gap, self.span(0, len(text)))

    def _assertion(self, raw: str, offset: int) -> Assertion:
        try:
            tree = assertion_parser().parse(raw)
        except UnexpectedInput as error:
            problem = syntax_problem(error, raw)
            raise ParseFailure(
                ParseProblem(
                    "NCD115",
                    offset,
                    offset + len(raw),
                    f"malformed truth assertion `{raw}`: {problem.message.removeprefix('syntax error: ')}",
                    "write e.g. `<ALL True>`, `<ANY False>` or `<For Each {x} True>`",
                )
            ) from None
        body_tree = tree.children[0]
        clauses: list[Clause] = []
        condition: bool | str | int | float = True  # a missing condition is `true` (FIDELITY §3.8)
        for part in body_tree.children:
            if part.data == "truth":
                token = part.children[0]
                if token.type == "NUMBER":
                    condition = float(token.value) if "." in token.value else int(token.value)
                else:
                    condition = {"true": True, "false": False}.get(token.value.lower(), token.value)
                continue
            for child in part.children:
                quantifier_token = child.children[0]
                word = " ".join(quantifier_token.value.lower().split())
                quantifier = "for-each" if word == "for each" else _QUANTIFIERS[word]
                concept = child.children[1].children[0].value if len(child.children) > 1 else None
                clauses.append(Clause(quantifier, concept))
        inner = raw[1:-1].strip()
        braced = inner.startswith("{") and inner.endswith("}")
        return Assertion(raw, braced, tuple(clauses), condition, self.span(offset, offset + len(raw)))

    # ------------------------------------------------------------------ modifier items

    def _items(self, inner: str, offset: int, form: ArgForm, directives: bool = False) -> tuple[Item, ...]:
        """``directives``: a ``%^`` argument, where ``<$...>`` parts (protections, selectors) are angle forms in
        parentheses or a list as well as bare (``%^(<$!={x}>)``, ``%^[<$*0>]``), not proposition references."""
        if form is ArgForm.SINGLE:
            parts = [(inner, 0)]
        else:
            parts = split_top_level(inner)
        items: list[Item] = []
        for part, at in parts:
            stripped = part.strip()
            if not stripped and form is ArgForm.LIST and len(parts) == 1:
                continue  # `%>[]`: an empty list
            lead = len(part) - len(part.lstrip())
            if directives and stripped.startswith("<$") and stripped.endswith(">"):
                items.extend(self._angle_items(stripped, offset + at + lead))
                continue
            items.append(self.item(stripped, offset + at + lead))
        return tuple(items)

    def item(self, text: str, offset: int) -> Item:
        """One item (LANGUAGE.md §2.3): concept reference, sign, integer, JSON value or bare word.

        Raises ``ParseFailure`` for a concept reference carrying a legacy tag (NCD128)."""
        span = self.span(offset, offset + len(text))
        if text.startswith("%"):
            match = SIGN.match(text)
            if match:
                return Sign(text, match.group("norm"), match.group("id"), match.group("signifier"), span)
            return AxisName(text, span)
        if text[:1] in "{[<" or re.match(r"^:[A-Za-z_][A-Za-z0-9_ -]*:", text):
            try:
                tree = payload_parser().parse(text, start="value_payload")
            except UnexpectedInput:
                ok, value = parse_json(text)
                if ok:
                    return JsonValue(text, value, span)
                return AxisName(text, span)
            return self._concept(tree, text, offset)
        if _INTEGER.match(text):
            return IntegerItem(text, int(text), span)
        ok, value = parse_json(text)
        if ok:
            return JsonValue(text, value, span)
        return AxisName(text, span)

    def face_value(self, text: str, offset: int) -> Item:
        """A ``$%`` face value (LANGUAGE.md §4.4): perceptual sign, else JSON value, else bare string."""
        span = self.span(offset, offset + len(text))
        match = SIGN.match(text)
        if match:
            return Sign(text, match.group("norm"), match.group("id"), match.group("signifier"), span)
        ok, value = parse_json(text)
        if ok:
            return JsonValue(text, value, span)
        return AxisName(text, span)

    def _angle_items(self, argument: str, offset: int) -> tuple[Item, ...]:
        items: list[Item] = []
        depth = 0
        start = 0
        for i, c in enumerate(argument):
            if c == "<":
                if depth == 0:
                    start = i
                depth += 1
            elif c == ">":
                depth -= 1
                if depth == 0:
                    raw = argument[start : i + 1]
                    span = self.span(offset + start, offset + i + 1)
                    items.append(AngleForm(raw, classify_angle(raw, span, self), span))
        return tuple(items)


def split_top_level(text: str) -> list[tuple[str, int]]:
    """Split at commas outside all four bracket kinds; returns (part, offset) pairs."""
    parts: list[tuple[str, int]] = []
    depth = 0
    start = 0
    for i, c in enumerate(text):
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            parts.append((text[start:i], start))
            start = i + 1
    parts.append((text[start:], start))
    return parts


def classify_angle(raw: str, span: Span, parser: PayloadParser) -> Suffix:
    """Classify one ``<...>`` annotation by LANGUAGE.md §3.2 (first match wins)."""
    inner = raw[1:-1]
    match = _BINDING.match(inner)
    if match:
        return Binding(raw, int(match.group(1)), span)
    if _LEGACY_ANGLE.match(inner):
        raise ParseFailure(
            ParseProblem(
                "NCD128",
                span.column - parser.column,
                span.end_column - parser.column,
                f"legacy tag `{raw}`; the current forms are `<$(X)%>`, `<$(X)=>` and positional `<:{{N}}>`",
                "rewrite the tag in the current form",
            )
        )
    match = _INSTANCE.match(inner)
    if match:
        return InstanceMarker(raw, match.group(1), span)
    match = _IDENTIFICATION.match(inner)
    if match:
        return IdentificationMarker(raw, match.group(1), span)
    match = _IDENTIFICATION_ALIAS.match(inner)
    if match:
        # Canonicalised so that the concept's identity is the preferred form's (`{file path}<$({1})=>`).
        preferred = f"<$({{{match.group(1)}}})=>"
        parser.problems.append(
            ParseProblem(
                "NCD917",
                span.column - parser.column,
                span.end_column - parser.column,
                f"`{raw}` is an accepted spelling of the identification marker `{preferred}`",
                f"write `{preferred}`",
            )
        )
        return IdentificationMarker(preferred, f"{{{match.group(1)}}}", span)
    match = _ELEMENT.match(inner)
    if match:
        number = match.group(2)
        index = int(number) if number is not None and not number.startswith("-") else None
        carry = -int(number) if number is not None and number.startswith("-") else None
        return ElementDeclaration(raw, match.group(1), index, carry, span)
    if inner.startswith("$!{") or inner.startswith("$!={"):
        axis = inner[inner.index("{") + 1 :].rstrip("}")
        return Protection(raw, axis, span)
    if inner.startswith("$*"):
        return Selector(raw, span)
    return ClausalComment(raw, span)
