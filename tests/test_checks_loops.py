"""The loop family (ncdc/checks/loops.py): NCD501-NCD512 and NCD950-NCD952.

Besides the fixtures (tests/fixtures/checks/), these tests pin the details of the rules (locations, spellings of
the element, chains, nesting, the cascades that are skipped), the corpus expectations for this family, and a
property test: random well-formed loops (random names, optional carried value, optional `$+` accumulator,
optional nested loop) give none of these diagnostics, and targeted mutations give the expected one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from ncdc.checker import check
from conftest import LLM_PARADIGM, expand_plan

FAMILY = {
    "NCD501", "NCD502", "NCD503", "NCD504", "NCD505", "NCD506", "NCD507", "NCD508", "NCD509", "NCD510",
    "NCD511", "NCD512", "NCD950", "NCD951", "NCD952",
}  # fmt: skip
LLM = LLM_PARADIGM
EXAMPLES = CORPUS.parent / "spec" / "examples"




def _run(text: str):
    return check(expand_plan(text), "plan.ncd")


def _ours(text: str) -> list[tuple[int, str]]:
    return sorted((d.line, d.code) for d in _run(text).diagnostics if d.code in FAMILY)


def _diagnostics(text: str, code: str):
    return [d for d in _run(text).diagnostics if d.code == code]


def _edit(text: str, fragment: str, replacement: str) -> str:
    """Replace the one line containing ``fragment`` by ``replacement``: its first line keeps the indentation of
    the replaced line, further lines are indented relative to it."""
    lines = text.split("\n")
    (position,) = [i for i, line in enumerate(lines) if fragment in line]
    indent = lines[position][: len(lines[position]) - len(lines[position].lstrip())]
    lines[position : position + 1] = [indent + line if line else line for line in replacement.split("\n")]
    return "\n".join(lines)


LOOP = """
    :<:{summary}
        <= ::(summarize {1})
        <- [notes]<:{1}>
            <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
                <= $. %>({note})
                <- {note}
                    <= ::(write a note on {1})
                    <- {draft}<:{1}>
            <- [drafts]
                | %{literal_value}: ["a", "b"]
            <* {draft}<$([drafts])*>
"""  # the `*.` line is line 4, the body `$.` line 5

CARRIED = """
    :<:{summary}
        <= ::(summarize {1})
        <- [notes]<:{1}>
            <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
                <= $. %>({note})
                <- {note}
                    <= ::(write a note on {1} after {2})
                    <- {draft}<:{1}>
                    <- {note}*-1<:{2}>
            <- [drafts]
                | %{literal_value}: ["a", "b"]
            <- {note}*0
                | %{literal_value}: "(start)"
            <* {draft}<$([drafts])*>
            <* {note}*-1
"""


def test_well_formed_loops_give_nothing() -> None:
    assert _ours(LOOP) == []
    assert _ours(CARRIED) == []


# ---------------------------------------------------------------------------------------------------- NCD501


def test_loop_without_children() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
            <- [notes]<:{1}>
                <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
                <- [drafts]
                <* {draft}<$([drafts])*>
    """
    assert _ours(text) == [(4, "NCD501")]
    assert "no body" in _diagnostics(text, "NCD501")[0].message


def test_malformed_loop_skips_the_result_check() -> None:
    text = LOOP.replace("<= $. %>({note})", "<= ::(pick the note)")
    assert _ours(text) == [(4, "NCD501")]


def test_loop_under_a_functional_line_is_left_to_the_structure_rules() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
                <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
                    <= $. %>({note})
            <- [drafts]
    """
    codes = {d.code for d in _run(text).diagnostics}
    assert "NCD208" in codes
    assert not codes & FAMILY


# ---------------------------------------------------------------------------------------------------- NCD502-504


def test_base_declared_with_context_marker() -> None:
    text = LOOP.replace("        <- [drafts]\n", "        <* [drafts]\n")
    (found,) = _diagnostics(text, "NCD502")
    assert (found.line, found.column) == (4, 18)
    assert "`<*`" in found.message


def test_percent_colon_is_the_loop_axis_and_is_not_compared_with_the_element() -> None:
    """FIDELITY §2: `%:` names the loop axis (group_base); the element comes from the `<*` declaration."""
    text = LOOP.replace("%:({draft})", "%:({item})")
    assert _diagnostics(text, "NCD503") == []


def test_element_declared_for_another_loop_index() -> None:
    text = LOOP.replace("<* {draft}<$([drafts])*>", "<* {draft}<$([drafts])*2>")
    assert _ours(text) == [(11, "NCD503")]
    assert _ours(LOOP.replace("<* {draft}<$([drafts])*>", "<* {draft}<$([drafts])*1>")) == []


def test_result_mismatch_both_locations() -> None:
    text = LOOP.replace("%<({note})", "%<({summary note})")
    found = _diagnostics(text, "NCD504")
    assert [(d.line, d.column) for d in found] == [(4, 31), (5, 13)]
    assert "{summary note}" in found[0].message


def test_missing_operands_are_left_to_the_operator_rules() -> None:
    text = LOOP.replace(" %>([drafts])", "")  # `%<` and `%:` are optional (FIDELITY §2); `%>` is required
    codes = {d.code for d in _run(text).diagnostics}
    assert "NCD212" in codes
    assert not codes & FAMILY


# ---------------------------------------------------------------------------------------------------- NCD505, NCD950


def _two_loops(first: str, second: str) -> str:
    return f"""
        :<:{{summary}}
            <= ::(compare {{1}} with {{2}})
            <- [notes]<:{{1}}>
                <= {first}
                    <= $. %>({{note}})
                    <- {{note}}
                        <= ::(write a note on {{1}})
                        <- {{draft}}<:{{1}}>
                <- [drafts]
                <* {{draft}}<$([drafts])*>
            <- [reviews]<:{{2}}>
                <= {second}
                    <= $. %>({{review}})
                    <- {{review}}
                        <= ::(review {{1}})
                        <- {{piece}}<:{{1}}>
                <- [drafts]
                <* {{piece}}<$([drafts])*>
    """


def test_loop_index_reused_including_the_default() -> None:
    first = "*. %>([drafts]) %<({note}) %:({draft})"
    second = "*. %>([drafts]) %<({review}) %:({piece})"
    (found,) = _diagnostics(_two_loops(first, second), "NCD950")
    assert found.line == 12 and "default" in found.message
    assert _ours(_two_loops(first + " %@(1)", second + " %@(2)")) == []


def test_same_loop_text_three_times() -> None:
    loop = """
    <- [n{k}]<:{k}>
        <= *. %>([drafts]) %<({{note}}) %:({{draft}}) %@(1)
            <= $. %>({{note}})
            <- {{note}}
                <= ::(write {{1}})
                <- {{draft}}<:{{1}}>
        <- [drafts]
        <* {{draft}}<$([drafts])*>"""
    text = ":<:{s}\n    <= ::(all of {1} {2} {3})" + "".join(loop.format(k=k) for k in (1, 2, 3)) + "\n"
    found = [(d.line, d.code) for d in check(text, "plan.ncd").diagnostics if d.code in FAMILY]
    assert found == [(12, "NCD505"), (20, "NCD505")]  # and no NCD950 on top


# ---------------------------------------------------------------------------------------------------- NCD506


def test_both_spellings_of_the_element_in_one_body() -> None:
    text = _edit(LOOP, "<= ::(write a note on {1})", "<= ::(write a note on {1} from {2})")
    text = _edit(text, "<- {draft}<:{1}>", "<- {draft}<:{1}>\n<- {draft}*1<:{2}>")
    (found,) = _diagnostics(text, "NCD506")
    assert (found.line, found.column) == (9, 20)
    assert "{draft}*1" in found.message and "line 8" in found.message


def test_both_spellings_reported_at_the_less_frequent_one() -> None:
    text = _edit(LOOP, "<= ::(write a note on {1})", "<= ::(write a note on {1} from {2} and {3})")
    text = _edit(text, "<- {draft}<:{1}>", "<- {draft}*1<:{1}>\n<- {draft}<:{2}>\n<- [drafts]*1<:{3}>")
    text = _edit(text, "<- [drafts]*1<:{3}>", "<- {draft}*1<:{3}>")
    (found,) = _diagnostics(text, "NCD506")
    assert found.line == 9 and "`{draft}*1` everywhere" in found.help


def test_versioned_spelling_alone_is_fine() -> None:
    assert _ours(LOOP.replace("<- {draft}<:{1}>", "<- {draft}*1<:{1}>")) == []


def test_element_of_another_index_and_outside_the_body() -> None:
    inside = LOOP.replace("<- {draft}<:{1}>", "<- {draft}*2<:{1}>")
    (found,) = _diagnostics(inside, "NCD506")
    assert "loop 2" in found.message
    outside = LOOP.replace("<= ::(summarize {1})", "<= ::(summarize {1} with {2})") + "        <- {draft}*1<:{2}>\n"
    assert _ours(outside) == [(12, "NCD506")]


NESTED = """
    :<:{summary}
        <= ::(summarize {1})
        <- [notes]<:{1}>
            <= *. %>([books]) %<([book notes]) %:({book}) %@(1)
                <= $. %>([book notes])
                <- [book notes]
                    <= *. %>({book}*1) %<({note}) %:({book}*1) %@(2)
                        <= $. %>({note})
                        <- {note}
                            <= ::(write a note on {1})
                            <- {book}*1*2<:{1}>
                    <- {book}*1
                    <* {book}*1<$({book}*1)*>
            <- [books]
                | %{literal_value}: [["a"], ["b"]]
            <* {book}<$([books])*>
"""


def test_chain_matching_the_nesting() -> None:
    assert _ours(NESTED) == []


def test_chain_not_matching_the_nesting() -> None:
    text = NESTED.replace("<- {book}*1*2<:{1}>", "<- {book}*2*1<:{1}>")
    (found,) = _diagnostics(text, "NCD506")
    assert found.line == 11 and "chain" in found.message


def test_produced_concept_ending_in_a_version_is_not_an_element() -> None:
    text = LOOP.replace("<= ::(summarize {1})", "<= ::(summarize {1} with {2})") + (
        "        <- {draft}*3<:{2}>\n            <= ::(make a draft)\n"
    )
    assert _ours(text) == []


def test_references_under_an_unparsed_loop_are_not_reported() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
            <- [notes]<:{1}>
                <= *every([drafts])%:[{draft}].[{note}]@(1)
                    <= $. %>({note})
                    <- {note}
                        <= ::(write a note on {1} after {2})
                        <- {draft}*1<:{1}>
                        <- {note}*-1<:{2}>
                <- [drafts]
                <* {note}<$({note})*-1>
    """
    codes = [d.code for d in _run(text).diagnostics]
    assert "NCD124" in codes
    assert not set(codes) & FAMILY


# ---------------------------------------------------------------------------------------------------- NCD507-509, 952


def test_carried_reference_outside_any_loop() -> None:
    text = CARRIED.replace("<= ::(summarize {1})", "<= ::(summarize {1} with {2})") + "        <- {note}*-1<:{2}>\n"
    assert _ours(text) == [(16, "NCD507")]


def test_carried_element_declaration_outside_a_loop() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
            <- {previous}<$({note})*-1><:{1}>
    """
    (found,) = _diagnostics(text, "NCD507")
    assert found.line == 3 and found.column == 18


def test_carried_element_declaration_form_is_accepted() -> None:
    text = CARRIED.replace("        <* {note}*-1\n", "        <* {previous}<$({note})*-1>\n")
    assert _ours(text) == []


def test_carried_from_nested_body_is_in_scope() -> None:
    # The outer loop carries its result; the inner body (nested in the outer one) reads the previous value.
    text = _edit(NESTED, "<= ::(write a note on {1})", "<= ::(write a note on {1} after {2})")
    text = _edit(text, "<- {book}*1*2<:{1}>", "<- {book}*1*2<:{1}>\n<- [book notes]*-1<:{2}>")
    text = _edit(
        text,
        "<* {book}<$([books])*>",
        "<- [book notes]*0\n    | %{literal_value}: []\n<* {book}<$([books])*>\n<* [book notes]*-1",
    )
    assert _ours(text) == []


def test_initial_value_produced_before_the_loop() -> None:
    text = CARRIED.replace("        <- {note}*0\n            | %{literal_value}: \"(start)\"\n", "").replace(
        "        <- [drafts]\n", "        <- {note}\n            <= ::(write an opening note)\n        <- [drafts]\n"
    )
    found = _ours(text)
    assert (15, "NCD508") not in found and not [f for f in found if f[1] == "NCD508"]


def test_non_invariant_annotation_on_a_reference_of_the_carried_name() -> None:
    text = _edit(CARRIED, "<- {note}*-1<:{2}>", "<- {note}*-1<:{2}>\n    | %{is_invariant}: false")
    (found,) = _diagnostics(text, "NCD509")
    assert found.line == 10 and found.column == 23


# ---------------------------------------------------------------------------------------------------- NCD510-512


ACCUMULATE = """
    :<:{summary}
        <= ::(summarize {1} and {2})
        <- [notes]<:{1}>
            <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
                <= $. %>({note})
                <- {note}
                    <= ::(write a note on {1})
                    <- {draft}<:{1}>
                <- [all notes]
                    <= $+ %>([all notes]) %<({note})
                    <- [all notes]
                    <- {note}
            <- [drafts]
                | %{literal_value}: ["a", "b"]
            <- [all notes]
                <= $% %>([])
            <* {draft}<$([drafts])*>
        <- [all notes]<:{2}>
"""


def test_accumulator_initialised_before_the_loop() -> None:
    assert _ours(ACCUMULATE) == []


def test_accumulator_initialised_in_an_enclosing_body_is_reset_with_it() -> None:
    # The `$+` sits in the inner body; its destination is initialised in the outer body: the outer loop resets it.
    text = """
        :<:{summary}
            <= ::(summarize {1})
            <- [notes]<:{1}>
                <= *. %>([books]) %<([book notes]) %:({book}) %@(1)
                    <= $. %>([book notes])
                    <- [chapter notes]
                        <= *. %>({book}) %<({note}) %:({chapter}) %@(2)
                            <= $. %>({note})
                            <- {note}
                                <= ::(write a note on {1})
                                <- {chapter}<:{1}>
                            <- [book notes]
                                <= $+ %>([book notes]) %<({note})
                                <- [book notes]
                                <- {note}
                        <- {book}
                        <- [book notes]
                            <= $% %>([])
                        <* {chapter}<$({book})*>
                <- [books]
                    | %{literal_value}: [["a"], ["b"]]
                <* {book}<$([books])*>
    """
    assert ("NCD510" in {code for _, code in _ours(text)})


def test_invariant_carried_name_produced_in_a_nested_body() -> None:
    text = _edit(
        CARRIED,
        "<- {note}*-1<:{2}>",
        "<- {note}*-1<:{2}>\n<- {checked note}\n    <= ::(check {1})\n    <- {note}*-1<:{1}>\n        <= $= %>({note})\n"
        "        <- {note}",
    )
    assert _ours(text) == [(12, "NCD512")]


# ---------------------------------------------------------------------------------------------------- NCD511, 951


def test_body_reads_a_concept_that_waits_for_the_aggregate() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1} and {2})
            <- [notes]<:{1}>
                <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
                    <= $. %>({note})
                    <- {note}
                        <= ::(write a note on {1} in the light of {2})
                        <- {draft}<:{1}>
                        <- {overview}<:{2}>
                <- [drafts]
                    | %{literal_value}: ["a", "b"]
                <* {draft}<$([drafts])*>
            <- {overview}<:{2}>
                <= ::(outline {1})
                <- [notes]<:{1}>
    """
    found = _diagnostics(text, "NCD511")
    assert [(d.line, d.column) for d in found] == [(9, 20)]
    assert "{overview}" in found[0].message and "[notes]" in found[0].message
    assert "NCD301" not in {d.code for d in _run(text).diagnostics}


def test_value_of_an_inner_body_read_in_the_outer_body() -> None:
    text = """
        :<:{summary}
            <= ::(summarize {1})
            <- [notes]<:{1}>
                <= *. %>([books]) %<({book note}) %:({book}) %@(1)
                    <= $. %>({book note})
                    <- {book note}
                        <= ::(write about {1})
                        <- {note}<:{1}>
                    <- [chapter notes]
                        <= *. %>({book}) %<({note}) %:({chapter}) %@(2)
                            <= $. %>({note})
                            <- {note}
                                <= ::(write a note on {1})
                                <- {chapter}<:{1}>
                        <- {book}
                        <* {chapter}<$({book})*>
                <- [books]
                    | %{literal_value}: [["a"], ["b"]]
                <* {book}<$([books])*>
    """
    assert _ours(text) == [(8, "NCD951")]


def test_value_read_by_its_own_loop_in_a_sibling_with_the_same_name_is_local() -> None:
    # Two loops producing one name (NCD930's business): each body reads its own.
    first = "*. %>([drafts]) %<({note}) %:({draft}) %@(1)"
    second = "*. %>([drafts]) %<({review}) %:({piece}) %@(2)"
    text = _two_loops(first, second).replace("<= $. %>({review})", "<= $. %>({note})").replace(
        "%<({review})", "%<({note})").replace("<- {review}", "<- {note}")
    assert _ours(text) == []


# ---------------------------------------------------------------------------------------------------- corpus


def test_iter10_output_loop_diagnostics(corpus) -> None:
    text = (corpus / "iter10_formalization_output.ncd").read_bytes()
    found = sorted((d.line, d.code) for d in check(text, "x.ncd").diagnostics if d.code in FAMILY)
    assert found == [(12, "NCD502"), (12, "NCD503"), (12, "NCD504"), (13, "NCD504")]


@pytest.mark.parametrize(
    "name", ["iter10_formalization.pf.ncd", "gold_syntax_coherence.ncd", "legacy_translation_v1.ncd"]
)
def test_corpus_plans_without_loop_diagnostics(corpus, name: str) -> None:
    text = (corpus / name).read_bytes()
    assert [(d.line, d.code) for d in check(text, name).diagnostics if d.code in FAMILY] == []


@pytest.mark.parametrize("name", ["chapters.ncd", "followups.ncd", "triage.ncd"])
def test_spec_examples_have_no_loop_diagnostics(corpus, name: str) -> None:
    text = (EXAMPLES / name).read_bytes()
    assert [(d.line, d.code) for d in check(text, name).diagnostics if d.code in FAMILY] == []


# ---------------------------------------------------------------------------------------------------- property


WORD = st.from_regex(r"[a-z]{3,7}( [a-z]{3,7})?", fullmatch=True)


@dataclass
class Shape:
    names: list[str]
    index: int
    inner_index: int
    carried: bool
    accumulate: bool
    nested: bool
    versioned: bool


@st.composite
def shapes(draw) -> Shape:
    names = draw(st.lists(WORD, min_size=12, max_size=12, unique=True))
    index = draw(st.integers(1, 9))
    inner_index = draw(st.integers(1, 9).filter(lambda n: n != index))
    return Shape(names, index, inner_index, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
                 draw(st.booleans()))  # fmt: skip


def build(shape: Shape, *, drop_element: bool = False, rename_result: bool = False, reuse_index: bool = False) -> str:
    n = shape.names
    output, aggregate, base, element, result = f"{{{n[0]}}}", f"[{n[1]}]", f"[{n[2]}]", f"{{{n[3]}}}", f"{{{n[4]}}}"
    accumulator, inner_aggregate, inner_base = f"[{n[5]}]", f"[{n[6]}]", f"[{n[7]}]"
    inner_element, inner_result = f"{{{n[8]}}}", f"{{{n[9]}}}"
    inner_index = shape.index if reuse_index else shape.inner_index
    element_ref = f"{element}*{shape.index}" if shape.versioned else element
    inner_ref = f"{inner_element}*{inner_index}" if shape.versioned else inner_element
    declared_result = f"{{{n[10]}}}" if rename_result else result

    out = [f":<:{output}", "    <= ::(summarize {1}" + (" and {2}" if shape.accumulate else "") + ")", "        @llm"]
    out.append(f"    <- {aggregate}<:{{1}}>")
    out.append(f"        <= *. %>({base}) %<({declared_result}) %:({element}) %@({shape.index})")
    out.append(f"            <= $. %>({result})")
    out.append(f"            <- {result}")
    inputs = [element_ref]
    if shape.carried:
        inputs.append(f"{result}*-1")
    if shape.nested:
        inputs.append(inner_aggregate)
    slots = " and ".join(f"{{{i}}}" for i in range(1, len(inputs) + 1))
    out.append(f"                <= ::(work on {slots})")
    out.append("                    @llm")
    out += [f"                <- {name}<:{{{i}}}>" for i, name in enumerate(inputs, 1)]
    if shape.nested:
        out.append(f"            <- {inner_aggregate}")
        out.append(f"                <= *. %>({inner_base}) %<({inner_result}) %:({inner_element}) %@({inner_index})")
        out.append(f"                    <= $. %>({inner_result})")
        out.append(f"                    <- {inner_result}")
        out.append("                        <= ::(combine {1} with {2})")
        out.append("                            @llm")
        out.append(f"                        <- {inner_ref}<:{{1}}>")
        out.append(f"                        <- {element_ref}<:{{2}}>")
        out.append(f"                <- {inner_base}")
        out.append('                    | %{literal_value}: ["x", "y"]')
        out.append(f"                <* {inner_element}<$({inner_base})*>")
    if shape.accumulate:
        out.append(f"            <- {accumulator}")
        out.append(f"                <= $+ %>({accumulator}) %<({result})")
        out.append(f"                <- {accumulator}")
        out.append(f"                <- {result}")
    out.append(f"        <- {base}")
    out.append('            | %{literal_value}: ["a", "b"]')
    if shape.carried:
        out.append(f"        <- {result}*0")
        out.append('            | %{literal_value}: "(start)"')
    if shape.accumulate:
        out.append(f"        <- {accumulator}")
        out.append("            <= $% %>([])")
    if not drop_element:
        out.append(f"        <* {element}<$({base})*>")
    if shape.carried:
        out.append(f"        <* {result}*-1")
    if shape.accumulate:
        out.append(f"    <- {accumulator}<:{{2}}>")
    return expand_plan("\n".join(out))


def _codes(text: str) -> list[tuple[int, str]]:
    return sorted((d.line, d.code) for d in check(text, "plan.ncd").diagnostics if d.code in FAMILY)


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(shapes())
def test_random_well_formed_loops_give_no_loop_diagnostic(shape: Shape) -> None:
    text = build(shape)
    result = check(text, "plan.ncd")
    assert not [d for d in result.diagnostics if d.severity.value == "error"], text
    assert _codes(text) == [], text


LOOP_LINE = 6  # the outer `*.` line of a built plan (after the root's two executor annotation lines)


@PROPERTY
@given(shapes())
def test_dropping_the_element_declaration_gives_ncd503(shape: Shape) -> None:
    assert _codes(build(shape, drop_element=True)) == [(LOOP_LINE, "NCD503")]


@PROPERTY
@given(shapes())
def test_renaming_the_result_gives_ncd504(shape: Shape) -> None:
    assert _codes(build(shape, rename_result=True)) == [(LOOP_LINE, "NCD504"), (LOOP_LINE + 1, "NCD504")]


@PROPERTY
@given(shapes().filter(lambda shape: shape.nested))
def test_reusing_the_index_in_a_nested_loop_gives_ncd950(shape: Shape) -> None:
    text = build(shape, reuse_index=True)
    (found,) = [d for d in check(text, "plan.ncd").diagnostics if d.code in FAMILY]
    assert found.code == "NCD950"
    assert text.splitlines()[found.line - 1].lstrip().startswith("<= *.")
