"""Usage warnings of the dependency graph (CHECKS.md §3.6): NCD930 (several producers of one concept), NCD931
(a concept consumed but neither produced nor declared ground), NCD932 (a ``$.`` with several ungated
candidates), NCD933 (a result nothing uses) and NCD934 (names differing only in case or spacing).

Each is one pass over the inferences, the producers or the concept names; NCD933 is one breadth-first walk from
the output's producers and the file-writing steps over what each inference *uses* (``_reads``), plus
everything a used step acting outside the plan (file writer, script, ``:>:``) waits for. An inference whose
operand names nothing in the plan (NCD935, ``GraphFacts.undeclared``) is taken to read every line it names, so
that NCD932/NCD933 do not cascade from it.
"""

from __future__ import annotations

import re
from collections import deque

from ncdc.checks._graph_facts import GraphFacts, append_destination, operator_of, refs
from ncdc.ir import AgentKind, Binding, ConceptKind, ConceptLine, ConceptRef, Operator, Semantic, Span
from ncdc.declarations import annotation_concepts
from ncdc.plan import Inference

_SPACE_INSIDE = re.compile(r"(?<=[{\[<(]) | (?=[}\]>)])")  # a space just inside a bracket (NCD934)


def check(facts: GraphFacts) -> None:
    """NCD930, NCD931, NCD932, NCD933, NCD934, in that order."""
    _several_producers(facts)
    _implicit_ground(facts)
    _ungated_candidates(facts)
    _unused_results(facts)
    _near_duplicates(facts)


def _several_producers(facts: GraphFacts) -> None:
    """NCD930 for every producer after the first, except ``$+`` accumulations, pass-throughs (L§5.4 a), failed
    lines and second roots."""
    for name, producers in facts.producers.items():
        if len(producers) < 2:
            continue
        counted = [p for p in producers if append_destination(p) is None]
        keys = [p.key for p in counted]
        kept = []
        for position, producer in enumerate(counted):
            if operator_of(producer) in ("$.", "$=") and any(
                k[: len(producer.key)] == producer.key for k in keys[position + 1 : position + 2]
            ):
                continue  # pass-through: re-exports the concept produced inside its own subtree (L§5.4 a)
            kept.append(producer)
        if len(kept) < 2:
            continue
        first = kept[0]
        for extra in kept[1:]:
            if not extra.complete or (extra.cti_line.depth == 0 and extra.cti_line is not facts.model.plan.root):
                continue  # a failed line, or a second root (NCD202)
            facts.reporter.at(
                "NCD930",
                extra.cti_line.span,
                f"{name} is also produced here; its first producer is the inference at line {first.source_line}, "
                "and consumers read whichever finishes first",
                help="give the results distinct names (select among gated alternatives with `$.`), or remove "
                "one producer",
                related=(facts.related(first.cti_line, f"first producer of {name}"),),
            )


def _implicit_ground(facts: GraphFacts) -> None:
    """NCD931 once per concept, at its first naming line (else its first mention)."""
    mentioned: dict[str, Span] = {}  # consumed concept -> its first mention by a reading line or operand
    for inference in facts.model.inferences:
        if not inference.complete:
            continue  # a failed line may be the one that declares or produces what it reads
        # A loop's context lines declare its element and carried concepts (NCD503, NCD507), whose names
        # the model keys by the declaration line rather than by the body's spelling (`{x}` for `{x}*1`).
        uses = inference.values if inference.loop is not None else inference.values + inference.contexts
        for use in uses:
            if _undeclared_element(use.name, inference):
                continue
            if use in inference.implicit and use.name not in facts.model.lines_naming:
                continue  # an operand that names no line: NCD935 reports it, once
            span = use.concept.span
            known = mentioned.get(use.name)
            if known is None or (span.line, span.column) < (known.line, known.column):
                mentioned[use.name] = span
    for name, mention in mentioned.items():
        if facts.produced(name) or facts.ground_declared(name):
            continue
        lines = facts.model.lines_naming.get(name)
        span = lines[0].span if lines else mention
        facts.reporter.at(
            "NCD931",
            span,
            f"{name} is consumed but never produced and not declared ground: the run's inputs file must "
            "supply it, or the run is blocked at start",
            help=f"declare {name} ground (`%{{file_location}}`, `%{{literal_value}}`, ...) or give it a "
            "producing operation",
        )


def _undeclared_element(name: str, inference: Inference) -> bool:
    """Whether ``name`` is the `%:` operand of an enclosing loop that has no element declaration (NCD503): in the
    older spelling `%:` named the element, so the body's read of it is that cascade, not an implicit ground
    concept."""
    for loop in inference.enclosing_loops:
        info = loop.loop
        if info is None or info.element is not None:
            continue
        node = info.operator_line.node
        modifier = node.modifier("%:") if isinstance(node, Operator) else None
        if modifier is None or len(modifier.items) != 1:
            continue
        item = modifier.items[0]
        written = item.canonical_name if isinstance(item, ConceptRef) else getattr(item, "text", "")
        if name in (written, f"{written}*{info.index}"):
            return True
    return False


def _ungated_candidates(facts: GraphFacts) -> None:
    """NCD932 for a ``$.`` with two or more candidates that no gate guards."""
    guarded: dict[str, bool] = {}  # concept -> guarded, shared by the recursive ``_guarded`` calls
    for inference in facts.model.inferences:
        node = inference.functional
        if (
            inference.kind != "ordinary"
            or not inference.complete
            or not isinstance(node, Operator)
            or node.op != "$."
            or inference.flow_index in facts.undeclared
        ):
            continue
        candidates = _candidates(facts, inference, node)
        ungated = [name for name, _ in candidates if not _guarded(facts, guarded, name)]
        if len(ungated) < 2:
            continue
        facts.reporter.at(
            "NCD932",
            inference.function_line.span,
            f"`$.` for {inference.cti} has {len(ungated)} candidates not guarded by a gate "
            f"({', '.join(ungated)}): the first one resolved always wins and the others are dead work",
            help="gate the alternatives, or keep a single ungated fallback as the last candidate",
        )


def _unused_results(facts: GraphFacts) -> None:
    """NCD933: ordinary inferences of the main tree whose result nothing uses (issue 14, item 5).

    A step is *used* when it produces the plan output, when it writes a file (its effect is its purpose), when
    a used step reads it (``_reads``), or when a used step that acts outside the plan — a file writer, a script,
    a ``:>:`` input (``_effect``) — waits for it in any way: an unbound ``<-`` input, a ``<*`` support, an
    ``@.`` dependency. So a plan whose root binds only a final file-writing step runs its earlier phases for
    that step, and they are used; waiting for a result is no use when the waiting step only computes a value.
    A script or ``:>:`` step whose own result nothing uses is still reported: what it does is unknown.
    """
    if facts.root_name is None:
        return
    reached: set[str] = set()
    queue: deque[Inference] = deque()

    def reach(inference: Inference) -> None:
        if inference.flow_index not in reached:
            reached.add(inference.flow_index)
            queue.append(inference)

    # A carried name X*-N reads X: the previous iteration's value (or, without X*0, the value before the loop).
    carried_source: dict[str, str] = {}
    for loop in facts.model.inferences:
        if loop.loop is not None:
            for concept, (name, _n, _initial) in loop.loop.carried.items():
                carried_source[name] = concept
    effects = {inference.flow_index: _effect(inference) for inference in facts.model.inferences}
    for producer in facts.producers.get(facts.root_name, ()):
        reach(producer)
    for inference in facts.model.inferences:
        if effects[inference.flow_index] == "writes":
            reach(inference)
    while queue:
        inference = queue.popleft()
        names = _reads(facts, inference)
        if effects[inference.flow_index] is not None:
            names = names + [use.name for use in inference.values + inference.contexts]
        for name in names:
            for producer in facts.producers.get(name, ()):
                reach(producer)
            for producer in facts.producers.get(carried_source.get(name, ""), ()):
                reach(producer)
        function = _function_producer(facts, inference)
        if function is not None:
            reach(function)
    for inference in facts.model.inferences:
        if (
            inference.flow_index in reached
            or inference.kind != "ordinary"
            or not inference.complete
            or not _in_main_tree(inference)
        ):
            continue
        facts.reporter.at(
            "NCD933",
            inference.cti_line.span,
            f"the result {inference.cti} is never used: no step on the way to the plan output {facts.root_name} "
            "reads it and no file-writing, script or `:>:` step waits for it, yet the step still runs and costs "
            "time",
            help="bind it as an input where it is needed, use it in an operation, or delete the step (a script "
            "run for the files it writes: declare them with `%{save_path}`)",
        )


# Composition parts of executors that act outside the plan (NCD933): file writers, and script runners.
_WRITE_WORDS = ("write", "save")
_SCRIPT_WORDS = ("execute", "script")


def _effect(inference: Inference) -> str | None:
    """How a semantic step acts outside the plan (NCD933), or None: ``"writes"`` (a ``c_…Write…``/``c_…Save…``
    composition, an ``o_FileLocation`` output, a ``%{save_path}`` on the functional line or on one of its
    inputs), ``"script"`` (``%{python}``, a ``.py`` provision, ``%{script_location}``, a ``v_Script…`` or
    ``c_…Execute…`` paradigm) or ``"input"`` (a ``:>:`` external input)."""
    node = inference.functional
    if not isinstance(node, Semantic):
        return None
    line = inference.function_line
    if line.annotation("save_path") is not None or any(
        any(a.sigil == "%" and a.key == "save_path" for a in use.line.annotations)
        for use in inference.values + inference.contexts
    ):
        return "writes"
    script = False
    paradigm = line.annotation("norm_input") or line.annotation("paradigm")
    if paradigm is not None:
        name = re.split(r"[\s(]", paradigm.value.strip(), maxsplit=1)[0]  # `v_…-o_… (a comment)` → the name
        for part in (p.lower() for p in name.split("-")):
            if (part.startswith("c_") and any(w in part for w in _WRITE_WORDS)) or part.startswith("o_filelocation"):
                return "writes"
            script = script or part.startswith("v_script") or (
                part.startswith("c_") and any(w in part for w in _SCRIPT_WORDS)
            )
    if node.agent.kind is AgentKind.INPUT:
        return "input"
    provision = line.annotation("v_input_provision")
    paths = [p for p in provision.value.replace(",", " ").split() if p] if provision is not None else []
    if script or any(line.annotation(key) is not None for key in ("python", "script_location")) or (
        paths and paths[0].endswith(".py")
    ):
        return "script"
    return None


def _near_duplicates(facts: GraphFacts) -> None:
    """NCD934 for each name whose normalised form (same kind of concept) an earlier name already has."""
    first_of: dict[tuple[ConceptKind, str], tuple[str, ConceptLine]] = {}
    for name, lines in facts.model.lines_naming.items():
        concept = lines[0].concept
        if concept is None or (concept.kind is ConceptKind.OBJECT and '"' in name and concept.literal is not None):
            continue
        key = (concept.kind, _normalized(name))
        found = first_of.get(key)
        if found is None:
            first_of[key] = (name, lines[0])
            continue
        other, other_line = found
        facts.reporter.at(
            "NCD934",
            lines[0].span,
            f"{name} differs from {other} (line {other_line.line}) only in letter case or spacing: the two "
            "names never connect",
            help=f"use one spelling, e.g. {other}",
            related=(facts.related(other_line, f"first spelling {other}"),),
        )


def _candidates(facts: GraphFacts, inference: Inference, node: Operator) -> list[tuple[str, ConceptRef]]:
    """The ``$.`` candidate list of R§3.3 (shared with emit and the runtime through the model)."""
    return facts.model.assign_candidates(inference)


def _reads(facts: GraphFacts, inference: Inference) -> list[str]:
    """The concepts an inference *uses* (CHECKS.md §3.6 NCD933): bound or ordered inputs, ``$.`` candidates,
    grouping sources, gate conditions, loop base and initial values, assigning operands. An inference whose
    operands are unknown (a failed line, an undeclared operand) is taken to use every line it names."""
    everything = [use.name for use in inference.values + inference.contexts]
    node = inference.functional
    if not inference.complete or inference.flow_index in facts.undeclared or node is None:
        return everything
    if inference.kind == "gate":
        return [use.name for use in inference.values]
    if isinstance(node, Semantic):
        order = inference.function_line.annotation("value_order")
        if order is not None:
            return [ref.canonical_name for ref in annotation_concepts(order)]
        if _bound(inference):
            return [
                use.name
                for use in inference.values
                if any(isinstance(s, Binding) for s in use.concept.suffixes)
            ]
        return [use.name for use in inference.values]
    assert isinstance(node, Operator)
    if node.op == "$.":
        names = [name for name, _ in _candidates(facts, inference, node)]
        if inference.kind == "loop_body" and not set(names) <= {use.name for use in inference.values}:
            return everything  # the body selects an undeclared result (NCD504)
        return names if names else everything
    if node.op in ("$=", "$-"):
        return [ref.canonical_name for ref in refs(node, "%>")]
    if node.op == "$+":
        return [ref.canonical_name for ref in refs(node, "%>") + refs(node, "%<")]
    if node.op == "$%":
        return []
    if node.family == "grouping":
        return [ref.canonical_name for ref in refs(node, "%>")]
    if node.family == "looping":
        return [use.name for use in inference.values]
    return everything


def _function_producer(facts: GraphFacts, inference: Inference) -> Inference | None:
    """The gate or loop-body inference whose cti is this inference's function concept."""
    found = facts.model.by_index.get(inference.function_line.flow_index)
    if found is not None and found is not inference and found.kind in ("gate", "loop_body"):
        return found
    return None


def _passed_on(facts: GraphFacts, name: str) -> list[str] | None:
    """The concepts whose guard ``name`` inherits, or None when ``name`` is not guarded: it has no producer, is
    declared ground, or has an ungated producer that does not merely pass values on (a ``$=``/``$.``)."""
    producers = facts.producers.get(name)
    if not producers or facts.ground_declared(name):
        return None
    inherited: list[str] = []
    for producer in producers:
        if producer.gated_by is not None:
            continue
        node = producer.functional
        if not (isinstance(node, Operator) and node.op in ("$=", "$.") and producer.complete):
            return None
        inner = (
            [ref.canonical_name for ref in refs(node, "%>")]
            if node.op == "$="
            else [n for n, _ in _candidates(facts, producer, node)]
        )
        if not inner:
            return None
        inherited.extend(inner)
    return inherited


def _guarded(facts: GraphFacts, cache: dict[str, bool], name: str) -> bool:
    """A ``$.`` candidate guarded by a gate: every producer is gated, or is a ``$=``/``$.`` that passes on only
    guarded concepts (a gated producer further up). Iterative: pass-through chains can be as long as the plan,
    far deeper than Python's recursion limit; a concept met again on its own chain (a cycle) is not guarded."""
    if name in cache:
        return cache[name]
    visiting: set[str] = set()
    stack: list[list] = [[name, None, 0]]  # frames: [concept, inherited concepts, next position]
    while stack:
        frame = stack[-1]
        current = frame[0]
        if frame[1] is None:
            inherited = _passed_on(facts, current)
            if inherited is None:
                cache[current] = False
                stack.pop()
                continue
            frame[1] = inherited
            visiting.add(current)
        inherited = frame[1]
        result, descended = True, False
        while frame[2] < len(inherited):
            child = inherited[frame[2]]
            known = cache.get(child)
            if known is None:
                if child in visiting:
                    result = False
                    break
                stack.append([child, None, 0])
                descended = True
                break
            if not known:
                result = False
                break
            frame[2] += 1
        if descended:
            continue
        cache[current] = result
        visiting.discard(current)
        stack.pop()
    return cache[name]


def _in_main_tree(inference: Inference) -> bool:
    """False for inferences under a second root (NCD202 already reports that tree)."""
    return inference.key[0] == 1


def _bound(inference: Inference) -> bool:
    """Whether some value input carries a slot binding ``<:{n}>`` (then only bound inputs are read)."""
    return any(isinstance(s, Binding) for use in inference.values for s in use.concept.suffixes)


def _normalized(name: str) -> str:
    """Lower-cased, whitespace runs collapsed, no space just inside a bracket (NCD934)."""
    text = " ".join(name.lower().split())
    return _SPACE_INSIDE.sub("", text) if " " in text else text
