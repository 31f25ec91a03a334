"""The IR: canonical names, suffix classes, semantic bodies, assertions, modifiers and flow indices."""

from __future__ import annotations

from ncdc.frontend import parse_plan
from ncdc.ir import (
    AgentKind,
    ArgForm,
    Binding,
    ClausalComment,
    ConceptKind,
    ElementDeclaration,
    IdentificationMarker,
    InstanceMarker,
    IntegerItem,
    Operator,
    Protection,
    RootPayload,
    Selector,
    Semantic,
    Sign,
    JsonValue,
)

APPENDIX = """\
:<:{trip summary}
    <= ::(summarize {1} for a traveller)
        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal
        | %{v_input_provision}: prompts/summarize.md
        | %{body_faculty}: llm
    <- [city notes]<:{1}>
        | %{ref_axes}: [city]
        | %{selector_collapse}: true
        <= *. %>([cities]) %<({note}) %:({city}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a short note about {1})
                    | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal
                    | %{body_faculty}: llm
                <- {city}<:{1}>
        <- [cities]
            | %{file_location}: data/cities.json
            | %{ref_axes}: [city]
        <* {city}<$([cities])*>
"""


def lines_of(text: str):
    result = parse_plan(text)
    assert result.diagnostics == []
    return result.plan.lines


def test_flow_indices_of_the_language_appendix() -> None:
    indices = [line.flow_index for line in lines_of(APPENDIX)]
    assert indices == ["1", "1.1", "1.2", "1.2.1", "1.2.1.1", "1.2.1.2", "1.2.1.2.1", "1.2.1.2.2", "1.2.2", "1.2.3"]


def test_heads_only_indices_number_only_heads() -> None:
    heads = [line.heads_only_index for line in lines_of(APPENDIX)]
    assert heads == ["1", None, "1.1", "1.1.1", None, "1.1.1.1", None, None, None, None]


def test_blank_and_comment_lines_never_advance_counters() -> None:
    lines = lines_of(":<:{a}\n\n    /: note\n    <= ::(f {1})\n\n    <- {b}<:{1}>\n")
    assert [line.flow_index for line in lines] == ["1", "1.1", "1.2"]


def test_canonical_names_follow_language_3_3() -> None:
    cases = {
        "<- {concept type}<:{1}>": "{concept type}",
        "<* {chapter}<$([chapters])*>": "{chapter}",
        "<- {document}*1": "{document}*1",
        "<- {draft}<$(<validated>)=>": "{draft}<$(<validated>)=>",
        "<- {x}*1*2<$({t})%><which is nice>": "{x}*1*2",
        "<- [all {summaries}]": "[all {summaries}]",
        "<- <{draft} is complete>": "<{draft} is complete>",
    }
    for line, name in cases.items():
        concept = lines_of(":<:{r}\n    <= $. %>({r})\n    " + line + "\n")[2].concept
        assert concept is not None and concept.canonical_name == name, line


def test_root_payloads_wrapped_and_bare() -> None:
    wrapped = lines_of(":<:({investment decision})\n    <= $. %>({investment decision})\n")[0]
    assert isinstance(wrapped.node, RootPayload) and wrapped.node.wrapped
    assert wrapped.concept.canonical_name == "{investment decision}"
    assert lines_of(":<:{trip summary}\n    <= ::(f)\n")[0].concept.kind is ConceptKind.OBJECT


def test_suffix_classification() -> None:
    line = ":<:{r}\n    <= &[#] %>[{a}] %^<$!={axis}>\n    <- {a}<:{2}><$({T})%><$({U})=><$([xs])*-1><a clause>\n"
    a = lines_of(line)[2].concept
    kinds = [type(s) for s in a.suffixes]
    assert kinds == [Binding, InstanceMarker, IdentificationMarker, ElementDeclaration, ClausalComment]
    assert a.suffixes[0].slot == 2 and a.suffixes[3].carry == 1
    group = lines_of(line)[1].node
    (protection,) = group.modifier("%^").items
    assert isinstance(protection.suffix, Protection) and protection.suffix.axis == "axis"


def test_literal_names() -> None:
    concept = lines_of(':<:{r}\n    <= $. %>({r})\n    <- {expected_type: "object"}\n')[2].concept
    assert concept.literal == "object"
    assert lines_of(":<:{r}\n    <= $. %>({r})\n")[0].concept.literal is None


def test_semantic_operations_and_placeholders() -> None:
    node = lines_of(":<:{r}\n    <= :%(composition):{paradigm}(merge {1}<$({a})%> and {2} per {object})\n")[1].node
    assert isinstance(node, Semantic)
    assert node.agent.kind is AgentKind.NORM and node.agent.name == "composition"
    assert node.norm == "paradigm" and node.family == "imperative"
    assert [(p.number, p.instance_of) for p in node.placeholders] == [(1, "{a}"), (2, None)]
    assert node.text == ":%(composition):{paradigm}(merge {1}<$({a})%> and {2} per {object})"


def test_judgements_and_both_assertion_spellings() -> None:
    plain = lines_of(":<:<r>\n    <= ::(check the type)<ALL True>\n")[1].node
    braced = lines_of(":<:<r>\n    <= ::(check the type) <{ALL True}>\n")[1].node
    assert plain.family == braced.family == "judgement"
    assert plain.assertion.clauses == braced.assertion.clauses
    assert braced.assertion.canonical_text == "<ALL True>" and braced.assertion_gap == " "
    complex_ = lines_of(":<:<r>\n    <= ::(x)<For Each {signal} where ALL {status_type} False>\n")[1].node.assertion
    assert [(c.quantifier, c.concept) for c in complex_.clauses] == [("for-each", "{signal}"), ("all", "{status_type}")]
    assert complex_.condition is False
    odd = lines_of(":<:<r>\n    <= ::(x)<{ALL unsure}>\n")[1].node.assertion
    assert odd.condition == "unsure"
    assert lines_of(":<:<r>\n    <= ::(x)<ALL Andrew>\n")[1].node.assertion.condition == "Andrew"


def test_input_agent_is_always_an_imperative() -> None:
    node = lines_of(":<:{r}\n    <= :>:(ask the user)<ALL True>\n")[1].node
    assert node.agent.kind is AgentKind.INPUT and node.family == "imperative"


def test_operators_modifiers_and_items() -> None:
    node = lines_of(":<:{r}\n    <= *. %>([cities]) %<({note}) %:({city}) %@(1)\n")[1].node
    assert isinstance(node, Operator) and node.family == "looping"
    assert [m.op for m in node.modifiers] == ["%>", "%<", "%:", "%@"]
    assert isinstance(node.modifier("%@").items[0], IntegerItem)
    group = lines_of(":<:{r}\n    <= &[{}] %>[ {a}, [b]<:{1}> ] %-[[x], []]\n")[1].node
    assert [item.canonical_name for item in group.modifier("%>").items] == ["{a}", "[b]"]
    assert group.modifier("%>").form is ArgForm.LIST
    assert group.text == "&[{}] %>[ {a}, [b]<:{1}> ] %-[[x], []]"  # spacing preserved
    face = lines_of(':<:{r}\n    <= $% %>(["a", "b"]) %:(signal)\n')[1].node
    assert isinstance(face.modifier("%>").items[0], JsonValue) and face.modifier("%>").items[0].value == ["a", "b"]
    sign = lines_of(":<:{r}\n    <= $% %>(%{file_location}7f2(data/x.json))\n")[1].node.modifier("%>").items[0]
    assert isinstance(sign, Sign) and (sign.norm, sign.sign_id, sign.signifier) == ("file_location", "7f2", "data/x.json")
    select = lines_of(":<:{r}\n    <= $- %>([xs]) %^<$*-1>\n")[1].node
    assert isinstance(select.modifier("%^").items[0].suffix, Selector)


def test_timing_direct_forms_are_equivalent() -> None:
    forms = ["@:'(<c>)", "@:' (<c>)", "@:' %>(<c>)"]
    conditions = []
    for form in forms:
        node = lines_of(f":<:{{r}}\n    <= ::(f)\n        <= {form}\n        <* <c>\n")[2].node
        assert node.family == "timing" and node.text == form
        conditions.append(node.modifier("%>").items[0].canonical_name)
    assert conditions == ["<c>"] * 3


def test_annotations_attach_by_indentation() -> None:
    text = (
        ":<:{r}\n"
        "    <= ::(generate a buy recommendation from {1})\n"
        "        <= @:'(<signals are bullish>)\n"
        "       | %{norm_input}: v_Prompt-h_Data-c_ThinkJSON-o_Normal\n"
        "        <* <signals are bullish>\n"
    )
    lines = lines_of(text)
    assert lines[1].annotation("norm_input").value == "v_Prompt-h_Data-c_ThinkJSON-o_Normal"
    assert lines[2].annotations == ()


def test_tails_split_at_top_level_pipe_and_description() -> None:
    line = lines_of(":<:{a | b} | ?{flow_index}: 1 | %{ref_axes}: [x] /: the result | not a segment\n    <= ::(f)\n")[0]
    assert line.payload == "{a | b}"
    assert [(a.sigil, a.key, a.value) for a in line.annotations] == [("?", "flow_index", "1"), ("%", "ref_axes", "[x]")]
    assert line.description == "the result | not a segment"


def test_opaque_comments_are_not_split() -> None:
    line = lines_of(":<:{a}\n    /: add | ?{sequence}: grouping\n    <= ::(f)\n")[0]
    assert line.annotations == () and line.description == "add | ?{sequence}: grouping"
