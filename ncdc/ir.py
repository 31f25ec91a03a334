"""The typed IR of a parsed plan: frozen nodes, each with its source span.

Spans are excluded from equality (``compare=False``) so that a plan re-printed by ``ncdc.printer`` and parsed
again compares equal to the original even where only whitespace moved. Every node keeps the verbatim source
texts that the canonical names of LANGUAGE.md §3.3 are built from; nothing is re-joined from tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Union


@dataclass(frozen=True, slots=True)
class Span:
    """1-based line and column of the first character; ``end_column`` is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span(0, 0, 0, 0)


def _span() -> Span:
    # Spans never take part in equality: a re-printed plan equals the original wherever only layout moved.
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[return-value]


class Marker(str, Enum):
    ROOT = ":<:"
    INPUT = ":>:"
    FUNCTION = "<="
    VALUE = "<-"
    CONTEXT = "<*"


class ConceptKind(str, Enum):
    OBJECT = "object"
    RELATION = "relation"
    PROPOSITION = "proposition"
    SUBJECT = "subject"


# ---------------------------------------------------------------- concept suffixes (LANGUAGE.md §3.2)


@dataclass(frozen=True, slots=True)
class LoopVersion:
    """``*1``, ``*1*2``, ``*0``, ``*-1``: part of the concept's identity."""

    text: str
    versions: tuple[int, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binding:
    """``<:{N}>``: this input fills slot N."""

    text: str
    slot: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InstanceMarker:
    """``<$({X})%>``: treated as an instance of X."""

    text: str
    target: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IdentificationMarker:
    """``<$({X})=>``: the X-identified version; part of identity (except on ``$+`` results)."""

    text: str
    target: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ElementDeclaration:
    """``<$(B)*>`` (element of B), ``<$(B)*N>`` (element of loop N) or ``<$(B)*-N>`` (carried element)."""

    text: str
    base: str
    index: int | None  # N of ``*N``; None for a bare ``*``
    carry: int | None  # N of ``*-N``
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Protection:
    """``<$!{axis}>`` / ``<$!={axis}>``: axis protection of a grouping argument."""

    text: str
    axis: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Selector:
    """``<$*N>``, ``<$*-1>``, ``<$*#>``: a ``$-`` selector."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ClausalComment:
    """Any other angle text: "the concept, which ...". Not part of identity."""

    text: str
    span: Span = _span()


Suffix = Union[
    LoopVersion,
    Binding,
    InstanceMarker,
    IdentificationMarker,
    ElementDeclaration,
    Protection,
    Selector,
    ClausalComment,
]


# ---------------------------------------------------------------- concepts (LANGUAGE.md §3)


@dataclass(frozen=True, slots=True)
class ConceptRef:
    """A concept reference: a bracketed core plus suffixes."""

    kind: ConceptKind
    core: str  # the bracketed core verbatim: ``{x}``, ``[x]``, ``<x>``, ``:Name:``
    suffixes: tuple[Suffix, ...]
    span: Span = _span()

    @property
    def inner(self) -> str:
        return self.core[1:-1]

    @property
    def literal(self) -> str | None:
        """The decoded string of a literal name ``{key: "value"}`` (LANGUAGE.md §3.1), else None."""
        from ncdc.literals import literal_value

        return literal_value(self) if self.kind is ConceptKind.OBJECT else None

    canonical_name: str = field(init=False, compare=False, repr=False, default="")

    def __post_init__(self) -> None:
        # Identity of the concept (LANGUAGE.md §3.3 steps 1-4), computed once: it is read on every lookup.
        name = self.core
        if self.suffixes:
            name += "".join(s.text for s in self.suffixes if isinstance(s, LoopVersion))
            name += "".join(s.text for s in self.suffixes if isinstance(s, IdentificationMarker))
        object.__setattr__(self, "canonical_name", name)

    def suffixes_of(self, kind: type) -> tuple:
        return tuple(s for s in self.suffixes if isinstance(s, kind))

    def source_text(self) -> str:
        return self.core + "".join(s.text for s in self.suffixes)

    @property
    def text(self) -> str:
        """The reference as written, like every other modifier item's ``text``."""
        return self.source_text()


@dataclass(frozen=True, slots=True)
class RootPayload:
    """A ``:<:``/``:>:`` payload: ``({x})`` (wrapped) or ``{x}`` (bare)."""

    concept: ConceptRef
    wrapped: bool
    outer_suffixes: tuple[Suffix, ...] = ()  # suffixes after the closing ``)`` of a wrapped root
    span: Span = _span()


# ---------------------------------------------------------------- modifier items (LANGUAGE.md §2.3, §4.4)


@dataclass(frozen=True, slots=True)
class Sign:
    """A perceptual sign ``%{norm}id(signifier)`` or a bare literal wrapper ``%(signifier)``."""

    text: str
    norm: str | None
    sign_id: str | None
    signifier: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class JsonValue:
    """A JSON literal item (``[]``, ``"text"``, ``42``, ``[[1, 2]]``) of a ``$%`` face value."""

    text: str
    value: object = field(hash=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IntegerItem:
    text: str
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AxisName:
    """A bare axis name (``signal``, ``_none_axis``) or any other bare word."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AngleForm:
    """One ``<...>`` group of an angle-form argument (``%^<$!={axis}>``, ``%^<$*#>``)."""

    text: str
    suffix: Suffix
    span: Span = _span()


Item = Union[ConceptRef, Sign, JsonValue, IntegerItem, AxisName, AngleForm]


class ArgForm(str, Enum):
    SINGLE = "single"  # ( ... )
    LIST = "list"  # [ ... ]
    ANGLE = "angle"  # < ... > < ... >


@dataclass(frozen=True, slots=True)
class Modifier:
    """``%>`` + argument. ``leading`` is the whitespace before the modifier (kept for exact re-printing)."""

    op: str
    form: ArgForm
    argument: str  # verbatim, brackets included
    items: tuple[Item, ...]
    leading: str = " "
    gap: str = ""  # whitespace between the operator symbol and its argument
    span: Span = _span()


# ---------------------------------------------------------------- functional concepts (LANGUAGE.md §4)


class AgentKind(str, Enum):
    DEFAULT = "default"  # ::
    INPUT = "input"  # :>:
    NORM = "norm"  # :%(norm):
    NAMED = "named"  # :Name:


@dataclass(frozen=True, slots=True)
class Agent:
    kind: AgentKind
    text: str  # verbatim: ``::``, ``:>:``, ``:%(composition):``, ``:Planner:``
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Placeholder:
    """``{N}`` in a semantic body, optionally followed by an instance marker ``<$({Type})%>``."""

    number: int
    instance_of: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Clause:
    quantifier: str  # all | some | none | exists | for-each
    concept: str | None  # the reference text, e.g. ``{signal}``


@dataclass(frozen=True, slots=True)
class Assertion:
    """A truth assertion (LANGUAGE.md §4.2). ``condition`` is True/False, the number or the word given; True
    when none is written (FIDELITY §3.8)."""

    text: str  # verbatim, angle brackets included
    braced: bool
    clauses: tuple[Clause, ...]
    condition: bool | str | int | float
    span: Span = _span()

    @property
    def canonical_text(self) -> str:
        """``<{ALL True}>`` → ``<ALL True>`` (LANGUAGE.md §3.3); other spellings unchanged."""
        if self.braced:
            inner = self.text[1:-1].strip()
            return "<" + inner[1:-1] + ">"
        return self.text


@dataclass(frozen=True, slots=True)
class Semantic:
    """An imperative (no assertion) or judgement (with assertion)."""

    agent: Agent
    norm: str | None  # text of the optional ``{norm}`` slot, without braces
    body: str  # the instruction, without the surrounding parentheses
    placeholders: tuple[Placeholder, ...]
    assertion: Assertion | None
    assertion_gap: str = ""  # whitespace between ``)`` and the assertion
    span: Span = _span()

    @property
    def family(self) -> str:
        if self.assertion is not None and self.agent.kind is not AgentKind.INPUT:
            return "judgement"
        return "imperative"

    @property
    def text(self) -> str:
        norm = "{" + self.norm + "}" if self.norm is not None else ""
        assertion = self.assertion_gap + self.assertion.text if self.assertion else ""
        return f"{self.agent.text}{norm}({self.body}){assertion}"


OPERATOR_FAMILY: dict[str, str] = {
    "$=": "assigning",
    "$%": "assigning",
    "$.": "assigning",
    "$+": "assigning",
    "$-": "assigning",
    "&[{}]": "grouping",
    "&[#]": "grouping",
    "@:'": "timing",
    "@:!": "timing",
    "@.": "timing",
    "*.": "looping",
}


@dataclass(frozen=True, slots=True)
class Operator:
    """A syntactic operator with its modifiers. A timing direct form ``@:'(<c>)`` is stored with
    ``direct=True`` and its argument as a ``%>`` modifier (the forms are equivalent, LANGUAGE.md §4.3)."""

    op: str
    modifiers: tuple[Modifier, ...]
    direct: bool = False
    span: Span = _span()

    @property
    def family(self) -> str:
        return OPERATOR_FAMILY[self.op]

    def modifier(self, op: str) -> Modifier | None:
        for modifier in self.modifiers:
            if modifier.op == op:
                return modifier
        return None

    @property
    def text(self) -> str:
        if self.direct:
            (argument,) = self.modifiers
            return f"{self.op}{argument.gap}{argument.argument}"
        return self.op + "".join(f"{m.leading}{m.op}{m.gap}{m.argument}" for m in self.modifiers)


Functional = Union[Semantic, Operator]
Payload = Union[RootPayload, ConceptRef, Semantic, Operator]


# ---------------------------------------------------------------- annotations and lines (LANGUAGE.md §1, §7)


@dataclass(frozen=True, slots=True)
class Annotation:
    """One ``%{key}: value`` (referential) or ``?{key}: value`` (syntactical) segment."""

    sigil: str  # "%" or "?"
    key: str
    value: str
    line: int = field(compare=False)  # the physical line the segment starts on (layout, not content)
    in_tail: bool = False  # written on the concept line itself rather than on an annotation line
    span: Span = _span()
    value_span: Span = _span()


class CommentKind(str, Enum):
    DESCRIPTION = "/:"
    QUESTION = "?:"
    SOURCE = "...:"
    BLOCK = "||"
    HASH = "#"
    BANNER = "|"  # a free-text annotation line


@dataclass(frozen=True, slots=True)
class Comment:
    kind: CommentKind
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ConceptLine:
    """One concept line with everything attached to it."""

    index: int  # position among the plan's concept lines
    marker: Marker
    depth: int
    indent: int = field(compare=False)  # leading whitespace characters (layout; the structure is ``depth``)
    payload: str = ""  # the main part, marker removed, trimmed
    node: Payload | None = None  # None when the payload failed to parse (the line stays in the tree)
    annotations: tuple[Annotation, ...] = ()
    comments: tuple[Comment, ...] = ()
    tail_description: str | None = None  # a ``/:`` description written on the concept line itself
    parent: int | None = None
    children: tuple[int, ...] = ()
    flow_index: str = ""
    heads_only_index: str | None = None
    span: Span = _span()
    payload_span: Span = _span()
    source: str = field(default="", compare=False, repr=False)  # the physical line(s), marker included
    # A bound `<-` child naming its inference's own cti: it only marks the placeholder of the result (FIDELITY
    # §6.2); not an input. Set by the front end (ncdc/spellings.py).
    output_placement: bool = False

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def description(self) -> str | None:
        """The tail ``/:`` text, else the first attached ``/:`` comment line (LANGUAGE.md §1.5)."""
        if self.tail_description is not None:
            return self.tail_description
        return next((c.text for c in self.comments if c.kind is CommentKind.DESCRIPTION), None)

    @property
    def is_head(self) -> bool:
        return bool(self.children)

    def annotation(self, key: str, sigil: str = "%") -> Annotation | None:
        """The first annotation with ``key`` (later duplicates are NCD912 and ignored)."""
        for annotation in self.annotations:
            if annotation.key == key and annotation.sigil == sigil:
                return annotation
        return None

    @property
    def concept(self) -> ConceptRef | None:
        """The concept of a value/root line (None for functional lines and failed payloads)."""
        if isinstance(self.node, RootPayload):
            return self.node.concept
        if isinstance(self.node, ConceptRef):
            return self.node
        return None

    @property
    def functional(self) -> Functional | None:
        return self.node if isinstance(self.node, (Semantic, Operator)) else None


@dataclass(frozen=True, slots=True)
class Plan:
    """A parsed plan: concept lines in file order (a tree through ``parent``/``children``)."""

    path: str
    lines: tuple[ConceptLine, ...]
    header_annotations: tuple[Annotation, ...]
    source_lines: tuple[str, ...] = field(compare=False, repr=False)

    @property
    def root(self) -> ConceptLine | None:
        return self.lines[0] if self.lines else None

    def children(self, line: ConceptLine) -> list[ConceptLine]:
        return [self.lines[i] for i in line.children]
