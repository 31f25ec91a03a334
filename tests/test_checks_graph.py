"""The dependency-graph family (ncdc/checks/graph.py): NCD301-NCD305, NCD924-NCD927, NCD930-NCD934, NCD949.

Besides the fixtures (tests/fixtures/checks/), these tests pin the details of the rules (cycle messages, the
pass-through and ``$+`` exceptions, cascades after an earlier error), the corpus expectations for this family,
and a property test: random valid plans give none of these diagnostics, and closing a random back-edge always
gives NCD301 with a real cycle in its message.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from ncdc.checker import check
from ncdc.options import CheckOptions
from conftest import BOOL_PARADIGM, LLM_PARADIGM, expand_plan

FAMILY = {
    "NCD301", "NCD303", "NCD304", "NCD305", "NCD924", "NCD925", "NCD926", "NCD927",
    "NCD930", "NCD931", "NCD932", "NCD933", "NCD934", "NCD935", "NCD949",
}  # fmt: skip
LLM = LLM_PARADIGM
BOOL = BOOL_PARADIGM
PROJECT_ROOT = Path(__file__).resolve().parents[1]




def _run(text: str, options: CheckOptions | None = None):
    return check(expand_plan(text), "plan.ncd", options)


def _ours(text: str, options: CheckOptions | None = None) -> list[tuple[int, str]]:
    return sorted((d.line, d.code) for d in _run(text, options).diagnostics if d.code in FAMILY)


def _diagnostics(text: str, code: str, options: CheckOptions | None = None):
    return [d for d in _run(text, options).diagnostics if d.code == code]


# ---------------------------------------------------------------------------------------------------------------
# NCD301
# ---------------------------------------------------------------------------------------------------------------

THREE_CYCLE = """
    :<:{summary}
        <= ::(summarize {1})
            @llm
        <- {a}<:{1}>
            <= ::(make a from {1})
                @llm
            <- {b}<:{1}>
                <= ::(make b from {1})
                    @llm
                <- {c}<:{1}>
                    <= ::(make c from {1})
                        @llm
                    <- {a}<:{1}>
"""


def test_cycle_message_lists_one_shortest_cycle_from_the_lowest_member_and_relates_every_member() -> None:
    (diagnostic,) = _diagnostics(THREE_CYCLE, "NCD301")
    assert diagnostic.line == 5  # {a}: the member with the lowest flow index (1.2)
    assert "{a} (line 5) -> {b} (line 9) -> {c} (line 13) -> {a}" in diagnostic.message
    assert sorted(r.line for r in diagnostic.related) == [5, 9, 13]
    assert all(r.path == "plan.ncd" for r in diagnostic.related)


def test_one_diagnostic_per_strongly_connected_component() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
                @llm
            <- {a}<:{1}>
                <= ::(make a again)
                    @llm
                <- {a}
            <- {b}<:{2}>
                <= ::(make b from {1})
                    @llm
                <- {x}<:{1}>
                    <= ::(make x from {1})
                        @llm
                    <- {b}<:{1}>
    """
    found = _diagnostics(text, "NCD301")
    assert [d.line for d in found] == [5, 10]
    assert "{a} (line 5) -> {a}" in found[0].message and "its own result" in found[0].message
    assert "{b} (line 10) -> {x} (line 14) -> {b}" in found[1].message


def test_pass_through_root_is_not_a_cycle() -> None:
    text = """
        :<:{decision}
            <= $. %>({decision})
            <- {decision}
                <= ::(decide from {1})
                    @llm
                <- {facts}<:{1}>
                    | %{literal_value}: "facts"
    """
    assert _ours(text) == []


def test_append_to_declared_initial_data_is_not_a_cycle() -> None:
    text = """
        :<:{digest}
            <= ::(write a digest of {1})
                @llm
            <- [messages]<:{1}>
                <= $+ %>([messages]) %<({new message}) %:({message})
                <- [messages]
                    | %{literal_value}: ["first"]
                    | %{ref_axes}: [message]
                <- {new message}
                    | %{literal_value}: "second"
    """
    assert _ours(text) == []


def test_loop_body_reading_the_loops_own_result_is_left_to_ncd511() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
                @llm
            <- [notes]<:{1}>
                | %{ref_axes}: [chapter]
                <= *. %>([chapters]) %<({note}) %:({chapter}) %@(1)
                    <= $. %>({note})
                    <- {note}
                        <= ::(write a note on {1} after {2})
                            @llm
                        <- {chapter}<:{1}>
                        <- [notes]<:{2}>
                <- [chapters]
                    | %{literal_value}: ["one", "two"]
                    | %{ref_axes}: [chapter]
                <* {chapter}<$([chapters])*>
    """
    assert "NCD301" not in {d.code for d in _run(text).diagnostics}


def test_a_cycle_through_a_line_that_failed_to_parse_is_not_reported() -> None:
    text = """
        :<:{report}
            <= ::(write the report from {1})>
            <- {outline}<:{1}>
                <= ::(outline {1})
                    @llm
                <- {report}<:{1}>
    """
    codes = {d.code for d in _run(text).diagnostics}
    assert "NCD111" in codes and "NCD301" not in codes


def test_acyclic_plans_never_import_networkx() -> None:
    """The cheap graphlib test settles acyclic plans; networkx (0.15 s to import) is only loaded for a cycle."""
    script = (
        "import sys\n"
        "from ncdc.checker import check\n"
        "from pathlib import Path\n"
        "for path in sys.argv[1:]:\n"
        "    check(Path(path).read_bytes(), path)\n"
        "print('networkx' in sys.modules)\n"
    )
    plans = [str(CORPUS / "iter10_formalization.pf.ncd"), str(CORPUS / "gold_syntax_coherence.ncd")]
    result = subprocess.run(
        [sys.executable, "-c", script, *plans], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------------------------
# NCD935 (FIDELITY §4; it replaces the retired NCD302): an undeclared operand is an implicit input, a warning
# ---------------------------------------------------------------------------------------------------------------


def test_undeclared_annotation_entries_are_reported_at_the_entry() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
                @llm
                | %{value_order}: [{notes}, {extra}]
            <- {notes}
                | %{literal_value}: "n"
    """
    (diagnostic,) = _diagnostics(text, "NCD935")
    assert (diagnostic.line, diagnostic.column) == (5, 37)
    assert "{extra}" in diagnostic.message and "%{value_order}" in diagnostic.message


def test_append_operands_and_selection_lists_must_be_siblings() -> None:
    text = """
        :<:{answer}
            <= $. %>({answer}) %<[{first}, {second}]
            <- {first}
                | %{literal_value}: "one"
    """
    found = _diagnostics(text, "NCD935")
    assert [(d.line, "{second}" in d.message) for d in found] == [(2, True)]


def test_loop_body_selector_is_left_to_the_loop_rules() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
                @llm
            <- [notes]<:{1}>
                | %{ref_axes}: [chapter]
                <= *. %>([chapters]) %<({note}) %:({chapter}) %@(1)
                    <= $. %>({other})
                    <- {note}
                        <= ::(write a note on {1})
                            @llm
                        <- {chapter}<:{1}>
                <- [chapters]
                    | %{literal_value}: ["one", "two"]
                    | %{ref_axes}: [chapter]
                <* {chapter}<$([chapters])*>
    """
    assert _diagnostics(text, "NCD935") == []


# ---------------------------------------------------------------------------------------------------------------
# NCD303, NCD304, NCD305
# ---------------------------------------------------------------------------------------------------------------


def test_ground_declaration_on_another_line_than_the_producer() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
                @llm
            <- {notes}<:{1}>
                <= ::(take notes)
                    @llm
            <- {extra}<:{2}>
                <= ::(extend {1})
                    @llm
                <- {notes}<:{1}>
                    | %{file_location}: data/notes.txt
    """
    (diagnostic,) = _diagnostics(text, "NCD303")
    assert diagnostic.line == 14
    assert diagnostic.related[0].line == 5


def test_identical_declarations_on_several_lines_are_fine() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
                @llm
            <- [items]<:{1}>
                | %{literal_value}: ["a"]
                | %{ref_axes}: [item]
            <- {count}<:{2}>
                <= ::(count {1})
                    @llm
                <- [items]<:{1}>
                    | %{literal_value}: ["a"]
                    | %{ref_axes}: [ item ]
    """
    assert _ours(text) == []


def test_paradigm_alias_counts_as_norm_input_for_ncd305() -> None:
    text = """
        :<:{summary}
            <= ::(join {1} and {2})
                @llm
            <- {short a}<:{1}>
                <= ::(shorten {1})
                    @llm
                <- {a}<:{1}>
                    | %{literal_value}: "first"
            <- {short b}<:{2}>
                <= ::(shorten {1})
                    | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal (same paradigm)
                    | %{body_faculty}: llm
                <- {b}<:{1}>
                    | %{literal_value}: "second"
    """
    assert _diagnostics(text, "NCD305") == []


# ---------------------------------------------------------------------------------------------------------------
# NCD924-NCD927
# ---------------------------------------------------------------------------------------------------------------


def test_gate_condition_written_as_a_value_line_is_still_ncd924() -> None:
    text = """
        :<:{reply}
            <= ::(post {1})
                @llm
            <- {draft}<:{1}>
                <= ::(write a reply)
                    @llm
                    <= @:'(<is urgent>)
                    <- <is urgent>
            <- <is urgent>
                <= ::(is the ticket urgent)<ALL True>
                    @bool
    """
    assert [d.line for d in _diagnostics(text, "NCD924")] == [9]


def test_gate_condition_as_context_of_the_gated_inference_is_not_ncd925() -> None:
    text = """
        :<:{reply}
            <= ::(post {1})
                @llm
            <- {draft}<:{1}>
                <= ::(write a reply)
                    @llm
                    <= @:'(<is urgent>)
                    <* <is urgent>
                <* <is urgent>
            <- <is urgent>
                <= ::(is the ticket urgent)<ALL True>
                    @bool
    """
    assert _diagnostics(text, "NCD925") == []


# ---------------------------------------------------------------------------------------------------------------
# NCD930-NCD934
# ---------------------------------------------------------------------------------------------------------------


def test_append_and_its_initial_producer_are_one_concept() -> None:
    text = """
        :<:{digest}
            <= ::(write a digest of {1})
                @llm
            <- [messages]<:{1}>
                <= $+ %>([messages]) %<({new message}) %:({message})
                <- [messages]
                    | %{ref_axes}: [message]
                    <= $% %>([])
                <- {new message}
                    | %{literal_value}: "second"
    """
    assert _diagnostics(text, "NCD930") == []


def test_undeclared_gate_condition_is_implicit_ground_at_the_operand() -> None:
    text = """
        :<:{reply}
            <= ::(post {1})
                @llm
            <- {draft}<:{1}>
                <= ::(write a reply)
                    @llm
                    <= @:'(<is urgent>)
    """
    found = _diagnostics(text, "NCD931")
    assert [(d.line, d.column) for d in found] == [(9, 20)]


def test_gated_producer_behind_a_pass_through_guards_a_candidate() -> None:
    text = """
        :<:{reply}
            <= $. %>({reply})
            <- {relayed reply}
                <= $= %>({drafted reply})
                <- {drafted reply}
                    <= ::(draft a reply)
                        @llm
                        <= @:'(<is urgent>)
                        <* <is urgent>
            <- {canned reply}
                | %{literal_value}: "Thanks!"
            <- <is urgent>
                <= ::(is the ticket urgent)<ALL True>
                    @bool
    """
    assert _ours(text) == []


def test_explicit_candidate_list_decides_ncd932() -> None:
    text = """
        :<:{reply}
            <= $. %>({reply}) %<[{canned reply}, {other reply}]
            <- {canned reply}
                | %{literal_value}: "Thanks!"
            <- {other reply}
                | %{literal_value}: "Hello!"
    """
    assert [d.line for d in _diagnostics(text, "NCD932")] == [2]


def test_no_unused_cascade_after_an_operand_that_names_nothing() -> None:
    text = """
        :<:{answer}
            <= $= %>({complete answer})
            <- {part}
                <= ::(write a part)
                    @llm
    """
    assert _ours(text) == [(2, "NCD935")]


def test_loop_element_spelled_with_its_index_is_not_implicit_ground() -> None:
    text = (CORPUS.parent / "spec" / "examples" / "chapters.ncd").read_text(encoding="utf-8")
    text = text.replace("<- {chapter}<:{1}>", "<- {chapter}*1<:{1}>")
    assert [d for d in check(text, "chapters.ncd").diagnostics if d.code in FAMILY] == []


def test_near_duplicates_ignore_literal_names() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
                @llm
            <- {mode: "Short"}<:{1}>
            <- {mode: "short"}<:{2}>
    """
    assert _ours(text) == []


# ---------------------------------------------------------------------------------------------------------------
# NCD949
# ---------------------------------------------------------------------------------------------------------------


def test_missing_files_only_with_check_files(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "tool.py").write_text("def f(x):\n    return x\n")
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
                | %{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_Literal
                | %{python}: scripts/tool.py:f
                | %{body_faculty}: python_interpreter
            <- {notes}<:{1}>
                <= ::(take notes)
                    @llm
                    | %{prompt}: prompts/notes.md
            <- {extra}<:{2}>
                | %{file_location}: ../outside.json
    """
    assert _diagnostics(text, "NCD949") == []
    found = _diagnostics(text, "NCD949", CheckOptions(check_files=True, plan_dir=tmp_path))
    assert [(d.line, "prompts/notes.md" in d.message or "../outside.json" in d.message) for d in found] == [
        (10, True),
        (12, True),
    ]


# ---------------------------------------------------------------------------------------------------------------
# the corpus (MANIFEST.md): this family's diagnostics, exactly
# ---------------------------------------------------------------------------------------------------------------

CORPUS_EXPECTED = {
    "gold_example.ncd": {(19, "NCD935"), (55, "NCD924"), (60, "NCD924"), (65, "NCD924")},
    "gold_recomposed.ncd": {
        (73, "NCD935"), (81, "NCD930"), (75, "NCD931"), (29, "NCD933"), (81, "NCD933"),
        (160, "NCD924"), (173, "NCD924"), (186, "NCD924"),
    },  # fmt: skip
    "iter10_formalization_output.ncd": {(2, "NCD935"), (21, "NCD935"), (18, "NCD935"), (3, "NCD931"), (4, "NCD931"), (19, "NCD931")},
    "gold_syntax_coherence.ncd": {(269, "NCD924"), (290, "NCD924"), (311, "NCD924")},
    "iter10_formalization.pf.ncd": set(),
}


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_expectations_of_this_family(name: str) -> None:
    path = CORPUS / name
    found = {(d.line, d.code) for d in check(path.read_bytes(), name).diagnostics if d.code in FAMILY}
    assert found == CORPUS_EXPECTED[name]


@pytest.mark.parametrize("name", ["triage.ncd", "chapters.ncd", "followups.ncd"])
def test_spec_examples_give_nothing_of_this_family(name: str) -> None:
    path = CORPUS.parent / "spec" / "examples" / name
    assert [d for d in check(path.read_bytes(), name).diagnostics if d.code in FAMILY] == []


# ---------------------------------------------------------------------------------------------------------------
# property test: random valid plans, then a random back-edge
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Node:
    """A concept line; ``function`` and ``function_children`` make it an inference."""

    marker: str
    concept: str
    suffix: str = ""
    annotations: list[str] = field(default_factory=list)
    function: str | None = None
    function_annotations: list[str] = field(default_factory=list)
    function_children: list[str] = field(default_factory=list)  # gate lines, as text relative to the function
    children: list["Node"] = field(default_factory=list)

    def render(self, depth: int, out: list[str]) -> None:
        pad = "    " * depth
        out.append(f"{pad}{self.marker} {self.concept}{self.suffix}".replace(":<: ", ":<:"))
        out.extend(f"{pad}    {a}" for a in self.annotations)
        if self.function is not None:
            out.append(f"{pad}    <= {self.function}")
            out.extend(f"{pad}        {a}" for a in self.function_annotations)
            out.extend(f"{pad}        {line}" for line in self.function_children)
        for child in self.children:
            child.render(depth + 1, out)


class PlanBuilder:
    """Builds a random valid plan: imperatives with bound inputs, judgements feeding gates, `$.` with gated
    alternatives and one ungated fallback, groupings and `$=`, over fresh or already finished concepts."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.count = 0
        self.finished: list[str] = []  # concepts whose producers are complete (never ancestors of a new line)

    def fresh(self, brackets: str = "{}") -> str:
        self.count += 1
        return f"{brackets[0]}c{self.count}{brackets[1]}"

    def ground(self, name: str | None = None, suffix: str = "") -> Node:
        name = name or self.fresh()
        self.finished.append(name)
        return Node("<-", name, suffix, [f'| %{{literal_value}}: "{name[1:-1]}"'])

    def input(self, depth: int, suffix: str = "") -> Node:
        choice = self.draw(st.integers(0, 3 if depth > 0 else 1))
        if choice == 0:
            return self.ground(suffix=suffix)
        if choice == 1 and self.finished:
            return Node("<-", self.draw(st.sampled_from(self.finished)), suffix)
        if choice == 1:
            return self.ground(suffix=suffix)
        return self.inference(self.fresh(), depth - 1, "<-", suffix)

    def judgement(self, depth: int) -> Node:
        name = self.fresh("<>")
        node = Node("<-", name, function=f"::(check {{1}} for {name[1:-1]})<ALL True>")
        node.function_annotations = [f"| %{{norm_input}}: {BOOL}", "| %{body_faculty}: llm"]
        node.children = [self.input(depth, "<:{1}>")]
        self.finished.append(name)
        return node

    def imperative(self, node: Node, depth: int) -> Node:
        count = self.draw(st.integers(1, 3))
        slots = " and ".join(f"{{{i}}}" for i in range(1, count + 1))
        node.function = f"::(make {node.concept[1:-1]} from {slots})"
        node.function_annotations = [f"| %{{norm_input}}: {LLM}", "| %{body_faculty}: llm"]
        node.children = [self.input(depth, f"<:{{{i}}}>") for i in range(1, count + 1)]
        return node

    def gate(self, node: Node, condition: Node, marker: str) -> None:
        """Gate ``node``'s operation on ``condition``, which becomes an (unbound) value child of ``node``."""
        node.function_children = [f"<= {marker}({condition.concept})", f"<* {condition.concept}"]
        node.children.append(condition)

    def inference(self, name: str, depth: int, marker: str = "<-", suffix: str = "") -> Node:
        kind = self.draw(st.sampled_from(["imperative", "gated", "select", "group", "identity"]))
        node = Node(marker, name, suffix)
        if kind == "imperative":
            self.imperative(node, depth)
        elif kind == "gated":
            self.imperative(node, depth)
            self.gate(node, self.judgement(depth), "@:'")
        elif kind == "select":
            # A gated alternative, an ungated ground fallback (last) and the condition, all siblings of `$.`.
            below = max(depth - 1, 0)
            condition = self.judgement(below)  # built first: it cannot read the alternative it gates
            alternative = self.imperative(Node("<-", self.fresh()), below)
            alternative.function_children = [f"<= @:!({condition.concept})", f"<* {condition.concept}"]
            self.finished.append(alternative.concept)
            node.function = f"$. %>({name})"
            node.children = [alternative, self.ground(), condition]
        elif kind == "group":
            node.concept = "[" + name[1:-1] + "]"
            sources: dict[str, Node] = {}
            for _ in range(self.draw(st.integers(1, 3))):
                source = self.input(depth)
                sources.setdefault(source.concept, source)
            node.function = "&[{}] %>[" + ", ".join(sources) + "]"
            node.children = list(sources.values())
        else:
            source = self.input(depth)
            node.function = f"$= %>({source.concept})"
            node.children = [source]
        self.finished.append(node.concept)
        return node


def _inferences(node: Node, ancestors: list[Node], pairs: list[tuple[Node, Node]]) -> None:
    if node.function is not None:
        pairs.extend((ancestor, node) for ancestor in ancestors)
        ancestors = ancestors + [node]
    for child in node.children:
        _inferences(child, ancestors, pairs)


def _render(root: Node) -> str:
    out: list[str] = []
    root.render(0, out)
    return "\n".join(out) + "\n"


@st.composite
def plans(draw):
    builder = PlanBuilder(draw)
    root = builder.inference(builder.fresh(), draw(st.integers(1, 4)), ":<:")
    pairs: list[tuple[Node, Node]] = []
    _inferences(root, [], pairs)
    back_edge = draw(st.sampled_from(pairs)) if pairs else None
    return root, back_edge


def _cycle_steps(message: str) -> list[int]:
    shown = message.split("dependency cycle: ", 1)[1].rsplit(" (", 1)[0]
    parts = shown.split(" -> ")
    lines = [int(re.search(r"\(line (\d+)\)$", part).group(1)) for part in parts[:-1]]
    first_name = re.sub(r" \(line \d+\)$", "", parts[0])
    assert parts[-1] == first_name, message  # the cycle closes on its first name
    return lines


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_random_valid_plans_are_clean_and_a_back_edge_always_gives_a_real_cycle(example) -> None:
    root, back_edge = example
    text = _render(root)
    result = check(text, "random.ncd")
    ours = [(d.line, d.code, d.message) for d in result.diagnostics if d.code in FAMILY]
    assert ours == [], text
    if back_edge is None:
        return
    ancestor, descendant = back_edge
    descendant.children.append(Node("<-", ancestor.concept))
    text = _render(root)
    result = check(text, "random.ncd")
    cycles = [d for d in result.diagnostics if d.code == "NCD301"]
    assert cycles, text
    by_line = {inference.source_line: inference for inference in result.model.inferences}
    edges = result.model.edges
    for diagnostic in cycles:
        steps = _cycle_steps(diagnostic.message)
        members = {r.line for r in diagnostic.related}
        assert set(steps) <= members and diagnostic.line == steps[0]
        for waiting, awaited in zip(steps, steps[1:] + steps[:1]):
            consumer, producer = by_line[waiting], by_line[awaited]
            assert consumer.flow_index in edges[producer.flow_index], (text, diagnostic.message)


def test_a_pass_through_chain_deeper_than_the_recursion_limit_is_checked() -> None:
    """NCD932's guard analysis follows `$=` copies; a 3,000-long chain must not exhaust Python's recursion."""
    import sys

    from ncdc.checker import check

    n = max(3000, sys.getrecursionlimit() + 500)
    lines = [":<:{out}", f"    <= $. %>({{c {n}}})"]
    for k in range(n, 1, -1):
        lines += [f"    <- {{c {k}}}", f"        <= $= %>({{c {k - 1}}})", f"        <- {{c {k - 1}}}"]
    lines += ["    <- {c 1}", '        | %{literal_value}: "x"']
    result = check("\n".join(lines) + "\n", "chain.ncd")
    assert not [d for d in result.diagnostics if d.severity.value == "error"]
